"""Metrics E, U, C, W and the scorers, on any fitted quantizer."""

import numpy as np
import ot
import pytest
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skwvq import WassersteinVQ
from skwvq.metrics import (
    codebook_perplexity,
    codebook_utilization,
    get_scorer,
    perplexity_scorer,
    quantization_error,
    quantization_error_scorer,
    utilization_scorer,
    vq_scores,
    wasserstein_distance,
    wasserstein_scorer,
)


def uniform_disk(n_points, centre_x, radius, rng):
    r = radius * np.sqrt(rng.uniform(size=n_points))
    angle = rng.uniform(0, 2 * np.pi, n_points)
    return np.column_stack([centre_x + r * np.cos(angle), r * np.sin(angle)])


def prototypical_study(code_centre_x, seeds=range(5)):
    """The paper's study: 10,000 points in a unit disk at (1.4, 0), 400 codes in one at (m, 0)."""
    scores = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        X = uniform_disk(10_000, 1.4, 1.0, rng)
        codebook = uniform_disk(400, code_centre_x, 1.0, rng)
        scores.append(
            (
                np.sqrt(quantization_error(X, codebook)),
                codebook_utilization(X, codebook),
                codebook_perplexity(X, codebook),
            )
        )
    return np.mean(scores, axis=0)


def test_prototypical_study_exact_match():
    # Paper: sqrt(E) = 0.05, U = 100%, C = 344.9. One draw's C varies by ~0.5.
    root_error, utilization, perplexity = prototypical_study(1.4)
    assert root_error == pytest.approx(0.05, rel=0.05)
    assert utilization >= 0.99
    assert perplexity == pytest.approx(344.9, rel=0.02)


def test_prototypical_study_high_mismatch():
    # Paper: sqrt(E) = 1.19, U = 2%, C = 3.8. One draw's C varies by ~1.
    root_error, utilization, perplexity = prototypical_study(-0.6)
    assert root_error == pytest.approx(1.19, rel=0.03)
    assert utilization == pytest.approx(0.02, abs=0.0075)
    assert perplexity == pytest.approx(3.8, abs=1.5)


def test_metric_definitions_by_hand():
    X = np.array([[0.0], [1.0], [3.0], [10.0]])
    codebook = np.array([[0.0], [2.0], [50.0]])
    # nearest codes 0, 0 (tie 1 -> first), 1, 1; squared distances 0, 1, 1, 64
    assert quantization_error(X, codebook) == pytest.approx(66 / 4)
    assert codebook_utilization(X, codebook) == pytest.approx(2 / 3)
    assert codebook_perplexity(X, codebook) == pytest.approx(2.0)
    weights = np.array([1.0, 1.0, 1.0, 0.0])
    assert quantization_error(X, codebook, sample_weight=weights) == pytest.approx(
        2 / 3
    )
    # Code 1 now holds one unit of weight against code 0's two.
    p = np.array([2 / 3, 1 / 3])
    expected_c = np.exp(-(p * np.log(p)).sum())
    assert codebook_perplexity(X, codebook, sample_weight=weights) == pytest.approx(
        expected_c
    )
    zero_weight_code = np.array([1.0, 1.0, 0.0, 0.0])
    assert codebook_utilization(
        X, codebook, sample_weight=zero_weight_code
    ) == pytest.approx(1 / 3)


def test_wasserstein_methods_agree_on_a_translation():
    rng = np.random.default_rng(0)
    codebook = rng.normal(size=(300, 3))
    shift = np.array([1.0, -2.0, 2.0])
    X = codebook + shift
    for method in ("gaussian", "exact"):
        assert wasserstein_distance(X, codebook, method=method) == pytest.approx(
            3.0, rel=1e-6
        )
    # Sliced: exact on average over directions; 4000 directions leave ~1.5% noise.
    sliced = wasserstein_distance(
        X, codebook, method="sliced", n_projections=4000, random_state=0
    )
    assert sliced == pytest.approx(3.0, rel=0.05)


def test_exact_wasserstein_matches_pot():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 2))
    codebook = rng.uniform(-1, 1, size=(40, 2))
    expected = np.sqrt(
        ot.emd2(np.full(500, 1 / 500), np.full(40, 1 / 40), ot.dist(X, codebook))
    )
    assert wasserstein_distance(
        X, codebook, method="exact", max_samples=None
    ) == pytest.approx(expected, rel=1e-9)


def test_sliced_wasserstein_is_sqrt_d_times_pot_sliced():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 4))
    codebook = rng.uniform(-1, 1, size=(400, 4))
    ours = wasserstein_distance(
        X, codebook, method="sliced", n_projections=2000, random_state=0
    )
    pot = ot.sliced_wasserstein_distance(X, codebook, n_projections=2000, seed=1)
    assert ours == pytest.approx(np.sqrt(4) * pot, rel=0.03)


def test_unknown_wasserstein_method():
    with pytest.raises(ValueError, match="method must be one of"):
        wasserstein_distance(np.zeros((3, 1)), np.zeros((1, 1)), method="sinkhorn")


def test_metrics_check_their_inputs():
    with pytest.raises(ValueError, match="X has 2 features but the codebook has 3"):
        quantization_error(np.zeros((4, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        codebook_utilization(np.array([[np.nan]]), np.zeros((1, 1)))


@pytest.fixture
def fitted_quantizers(blobs):
    return [
        KMeans(8, n_init=1, random_state=0).fit(blobs),
        MiniBatchKMeans(8, n_init=1, random_state=0).fit(blobs),
        WassersteinVQ(8, random_state=0, max_iter=10).fit(blobs),
    ]


def test_scorers_work_on_any_quantizer(blobs, fitted_quantizers):
    for model in fitted_quantizers:
        centres = model.cluster_centers_
        assert quantization_error_scorer(model, blobs) == pytest.approx(
            -quantization_error(blobs, centres)
        )
        assert utilization_scorer(model, blobs) == codebook_utilization(blobs, centres)
        assert perplexity_scorer(model, blobs) == codebook_perplexity(blobs, centres)
        assert wasserstein_scorer(model, blobs) == pytest.approx(
            -wasserstein_distance(blobs, centres)
        )
        scores = vq_scores(model, blobs)
        assert scores == {
            name: pytest.approx(get_scorer(name)(model, blobs)) for name in scores
        }


def test_scorers_see_through_pipelines(blobs):
    pipe = make_pipeline(
        StandardScaler(), WassersteinVQ(8, random_state=0, max_iter=5)
    ).fit(blobs)
    scaled = pipe[0].transform(blobs)
    assert quantization_error_scorer(pipe, blobs) == pytest.approx(
        -quantization_error(scaled, pipe[-1].codebook_)
    )


def test_scorer_refuses_non_quantizers(blobs):
    scaler = StandardScaler().fit(blobs)
    with pytest.raises(TypeError, match="neither codebook_ nor cluster_centers_"):
        quantization_error_scorer(scaler, blobs)
    with pytest.raises(ValueError, match="Unknown scorer"):
        get_scorer("accuracy")


def smallest_k_near_best_error(cv_results):
    """Refit rule: the smallest codebook whose E is within 10% of the best E."""
    errors = -np.asarray(cv_results["mean_test_neg_quantization_error"])
    sizes = np.asarray(cv_results["param_n_clusters"], dtype=int)
    good = np.flatnonzero(errors <= 1.10 * errors.min())
    return int(good[np.argmin(sizes[good])])


@pytest.mark.parametrize(
    "estimator",
    [WassersteinVQ(random_state=0, max_iter=10), KMeans(n_init=1, random_state=0)],
    ids=["WassersteinVQ", "KMeans"],
)
def test_grid_search_over_codebook_size(blobs, estimator):
    search = GridSearchCV(
        estimator,
        {"n_clusters": [2, 4, 8, 16]},
        scoring=vq_scores,
        refit=smallest_k_near_best_error,
        cv=3,
    ).fit(blobs)
    for name in (
        "neg_quantization_error",
        "utilization",
        "perplexity",
        "neg_wasserstein",
    ):
        assert np.all(np.isfinite(search.cv_results_[f"mean_test_{name}"])), name
    # Eight blobs: E drops sharply up to K = 8, then flattens.
    assert search.best_params_["n_clusters"] in (8, 16)
    errors = -search.cv_results_["mean_test_neg_quantization_error"]
    assert np.all(np.diff(errors) < 0)
