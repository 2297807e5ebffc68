"""The three transport targets against POT and closed forms."""

import numpy as np
import ot
import pytest

from skwvq.alignment import (
    check_exact_size,
    exact_targets,
    gaussian_targets,
    gaussian_w2,
    quantization_optimal_masses,
    sliced_data_side,
    sliced_targets,
    weighted_moments,
)


def random_spd(rng, d):
    A = rng.normal(size=(d, d))
    return A @ A.T + 0.1 * np.eye(d)


def test_gaussian_targets_match_pot_mapping():
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 3))
    data_mean, data_cov = rng.normal(size=3), random_spd(rng, 3)
    targets, w2 = gaussian_targets(codebook, data_mean, data_cov)
    code_mean, code_cov = weighted_moments(codebook)
    A, b = ot.gaussian.bures_wasserstein_mapping(
        code_mean, data_mean, code_cov, data_cov
    )
    np.testing.assert_allclose(targets, codebook @ A + b, rtol=1e-8, atol=1e-8)
    pot_w = ot.gaussian.bures_wasserstein_distance(
        code_mean, data_mean, code_cov, data_cov
    )
    assert w2 == pytest.approx(float(pot_w) ** 2, rel=1e-8)
    assert gaussian_w2(data_mean, data_cov, code_mean, code_cov) == pytest.approx(
        w2, rel=1e-8
    )


@pytest.mark.parametrize(
    "codebook",
    [np.full((6, 4), 3.0), np.eye(4)[:3] * 5.0, np.zeros((1, 4))],
    ids=["all-equal", "fewer-codes-than-features", "single-code"],
)
@pytest.mark.parametrize("data_cov", [np.eye(4), np.zeros((4, 4))], ids=["spd", "zero"])
def test_gaussian_targets_finite_for_degenerate_covariances(codebook, data_cov):
    data_mean = np.arange(4.0)
    targets, w2 = gaussian_targets(codebook, data_mean, data_cov)
    assert np.all(np.isfinite(targets)) and np.isfinite(w2)
    # The codes' mean always moves onto the data's mean.
    np.testing.assert_allclose(targets.mean(0), data_mean, atol=1e-8)


def test_sliced_in_one_dimension_is_exact_transport():
    rng = np.random.default_rng(1)
    sample = rng.gamma(2.0, size=(997, 1))
    masses = rng.uniform(0.5, 1.5, 997)
    masses /= masses.sum()
    codebook = rng.normal(size=(31, 1))
    direction = np.ones((1, 1))
    targets, w2 = sliced_targets(
        codebook, direction, *sliced_data_side(sample, masses, direction, 31)
    )
    exact, exact_w2 = exact_targets(codebook, sample, masses)
    np.testing.assert_allclose(targets, exact, rtol=1e-9, atol=1e-9)
    assert w2 == pytest.approx(exact_w2, rel=1e-9)


def test_sliced_step_moves_a_translated_codebook_onto_the_data():
    rng = np.random.default_rng(2)
    codebook = rng.normal(size=(500, 3))
    sample = codebook + np.array([4.0, 0.0, -4.0])
    directions = ot.sliced.get_random_projections(
        3, 3000, seed=np.random.RandomState(0)
    )
    data_side = sliced_data_side(sample, np.full(500, 1 / 500), directions, 500)
    targets, w2 = sliced_targets(codebook, directions, *data_side)
    # The factor d/L makes the averaged step the full translation, not a third of it.
    np.testing.assert_allclose(
        targets.mean(0) - codebook.mean(0), [4.0, 0.0, -4.0], atol=0.15
    )
    assert w2 == pytest.approx(32.0, rel=0.05)


def test_exact_targets_are_the_barycentric_projection():
    rng = np.random.default_rng(3)
    sample, codebook = rng.normal(size=(60, 2)), rng.normal(size=(12, 2))
    masses = np.full(60, 1 / 60)
    plan = ot.emd(masses, np.full(12, 1 / 12), ot.dist(sample, codebook))
    targets, w2 = exact_targets(codebook, sample, masses)
    np.testing.assert_allclose(targets, 12 * plan.T @ sample, atol=1e-12)
    assert w2 == pytest.approx(np.sum(plan * ot.dist(sample, codebook)))


@pytest.mark.parametrize("max_reference", [16384, 500])
def test_quantization_optimal_masses_follow_the_density_power(max_reference):
    # p = 0.8 on [0, 1) and 0.2 on [1, 2); p^{1/3} (d = 1) splits its mass
    # 0.8^{1/3} : 0.2^{1/3}, i.e. 61.3% on [0, 1) instead of 80%.
    rng = np.random.default_rng(4)
    sample = np.concatenate([rng.uniform(0, 1, 16000), rng.uniform(1, 2, 4000)])[
        :, None
    ]
    masses = quantization_optimal_masses(
        sample, np.full(20000, 1 / 20000), max_reference=max_reference
    )
    assert masses.sum() == pytest.approx(1.0)
    expected = 0.8 ** (1 / 3) / (0.8 ** (1 / 3) + 0.2 ** (1 / 3))
    assert masses[:16000].sum() == pytest.approx(expected, rel=0.02)


def test_quantization_optimal_masses_respect_sample_weights():
    # Two equal, separated clusters weighted 3:1; p^{1/3} gives them 3^{1/3} : 1.
    rng = np.random.default_rng(5)
    sample = np.concatenate([rng.uniform(0, 1, 2000), rng.uniform(5, 6, 2000)])[:, None]
    masses = np.concatenate([np.full(2000, 3.0), np.ones(2000)])
    masses /= masses.sum()
    reweighted = quantization_optimal_masses(sample, masses)
    expected = 3 ** (1 / 3) / (3 ** (1 / 3) + 1)
    assert reweighted[:2000].sum() == pytest.approx(expected, rel=0.03)


def test_quantization_optimal_masses_of_duplicates_are_finite():
    sample = np.repeat(np.arange(5.0), 40)[:, None]
    masses = quantization_optimal_masses(sample, np.full(200, 1 / 200))
    assert np.all(np.isfinite(masses)) and masses.sum() == pytest.approx(1.0)


def test_exact_size_limit_names_the_alternative():
    check_exact_size(4096, 4096)
    with pytest.raises(ValueError, match=r"alignment='sliced'.*smaller ot_sample_size"):
        check_exact_size(100_000, 1024)
    with pytest.raises(
        ValueError, match=r"'sliced', which scales to any number of codes\.$"
    ):
        check_exact_size(10_000, 10_000)
    with pytest.raises(ValueError, match=r"method='sliced'.*max_samples"):
        check_exact_size(100_000, 1024, what="method", size="max_samples")
