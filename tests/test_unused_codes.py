"""No code ends unused: the re-seeding of unused codes, the k-means++ seeding it shares with ``init="auto"``, and when a decaying alignment stops.

References are independent of the code under test: sklearn's ``kmeans_plusplus``
and ``KMeans``, and brute-force numpy distances.
"""

import numpy as np
import pytest
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.datasets import load_digits
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.preprocessing import StandardScaler

from skwvq import WassersteinVQ
from skwvq._inputs import as_rows
from skwvq.initialization import (
    initial_codebook,
    kmeans_plusplus_rows,
    seeding_sample_size,
)
from skwvq.metrics import codebook_utilization, quantization_error
from skwvq.update import place_unused_codes


@pytest.fixture(scope="module")
def digits():
    return load_digits().data


@pytest.fixture(scope="module")
def standardized_digits(digits):
    return StandardScaler().fit_transform(digits)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("weighted", [False, True])
# Rows in lanes up to LANE_POTENTIALS_MAX_FEATURES = 16, row by row past it.
@pytest.mark.parametrize("n_features", [1, 5, 16, 17, 40])
def test_seeding_chooses_the_rows_of_sklearns_kmeans_plusplus(
    seed, weighted, n_features
):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(501, n_features)) + 4 * rng.integers(0, 3, size=(501, 1))
    weights = rng.uniform(0.2, 3.0, 501) if weighted else np.ones(501)
    _, expected = kmeans_plusplus(
        X, 20, sample_weight=weights, random_state=np.random.RandomState(seed)
    )
    rows = kmeans_plusplus_rows(X, 20, weights, np.random.RandomState(seed))
    np.testing.assert_array_equal(rows, expected)


def test_seeding_continues_from_existing_codes_and_never_doubles_a_row():
    # Three distinct rows, one already under a code: only two new centres exist.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 0.0], [0.0, 7.0]])
    closest = euclidean_distances(X, [[0.0, 0.0]], squared=True)[:, 0]
    rows = kmeans_plusplus_rows(X, 5, np.ones(4), np.random.RandomState(0), closest)
    assert sorted(rows.tolist()) == [2, 3]


def test_placed_codes_each_own_a_row_of_the_support():
    rng = np.random.default_rng(0)
    support = rng.normal(size=(300, 3))
    codebook = np.vstack([support[:5] + 0.01, rng.normal(loc=50.0, size=(15, 3))])
    unused = np.arange(20) >= 5
    placed = place_unused_codes(
        codebook, unused, (support, np.full(300, 1 / 300)), np.random.RandomState(0)
    )
    np.testing.assert_array_equal(placed[:5], codebook[:5])
    # Every placed code is a row of the support, and that row's nearest code.
    on_row = euclidean_distances(placed[5:], support, squared=True).argmin(axis=1)
    np.testing.assert_array_equal(placed[5:], support[on_row])
    nearest = euclidean_distances(support, placed, squared=True).argmin(axis=1)
    np.testing.assert_array_equal(nearest[on_row], np.arange(5, 20))


def test_placement_leaves_codes_where_no_distinct_row_is_left():
    support = np.array([[0.0], [0.0], [1.0]]), np.full(3, 1 / 3)
    codebook = np.array([[0.0], [40.0], [50.0], [60.0]])
    unused = np.array([False, True, True, True])
    placed = place_unused_codes(codebook, unused, support, np.random.RandomState(0))
    assert sorted(placed[:, 0].tolist()) == [0.0, 1.0, 50.0, 60.0]


def test_auto_init_is_kmeans_plusplus_on_a_subsample_whose_size_does_not_grow_with_n():
    assert seeding_sample_size(10**6, 4096, 64) == seeding_sample_size(10**9, 4096, 64)
    assert seeding_sample_size(1797, 256, 64) == 1797  # small data: every row
    X = np.random.default_rng(0).normal(size=(1000, 4))
    rows = as_rows(X)
    rows.check_sample_weight(np.ones(1000))
    auto = initial_codebook(rows, 16, "auto", np.random.RandomState(3))
    full = initial_codebook(rows, 16, "k-means++", np.random.RandomState(3))
    np.testing.assert_array_equal(auto, full)


FITS = {
    "full batch": lambda vq, X: vq.fit(X),
    "mini-batch": lambda vq, X: vq.set_params(batch_size=256).fit(X),
    "partial_fit": lambda vq, X: [
        vq.partial_fit(batch) for _ in range(3) for batch in np.array_split(X, 6)
    ],
}


@pytest.mark.parametrize("fit", list(FITS), ids=list(FITS))
@pytest.mark.parametrize("alignment", ["gaussian", "sliced", "exact"])
def test_no_code_ends_unused_from_a_far_start(make_problem, alignment, fit, backend):
    X, init = make_problem(n_samples=3000, n_clusters=64)
    vq = WassersteinVQ(
        64, alignment=alignment, init=init, random_state=0, **backend.params
    )
    FITS[fit](vq, backend.asarray(X))
    assert codebook_utilization(X, vq.codebook_) == 1.0


@pytest.mark.parametrize("fit", list(FITS), ids=list(FITS))
@pytest.mark.parametrize("alignment", ["gaussian", "sliced", "exact"])
def test_no_code_ends_unused_on_standardized_digits(
    standardized_digits, alignment, fit, backend
):
    X = standardized_digits
    vq = WassersteinVQ(64, alignment=alignment, random_state=0, **backend.params)
    FITS[fit](vq, backend.asarray(X))
    assert codebook_utilization(X, vq.codebook_) == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digits_with_256_codes_use_every_code_at_kmeans_plusplus_error(digits, seed):
    vq = WassersteinVQ(256, random_state=seed).fit(digits)
    km = KMeans(256, n_init=1, random_state=seed).fit(digits)
    assert codebook_utilization(digits, vq.codebook_) == 1.0
    assert quantization_error(digits, vq.codebook_) <= 1.01 * km.inertia_ / len(digits)


@pytest.mark.parametrize("n_clusters", [16, 64])
def test_default_fit_stops_within_half_again_kmeans_iterations(digits, n_clusters):
    for seed in range(3):
        vq = WassersteinVQ(n_clusters, random_state=seed).fit(digits)
        km = KMeans(n_clusters, n_init=1, random_state=seed).fit(digits)
        assert vq.n_iter_ <= 1.5 * km.n_iter_, (seed, vq.n_iter_, km.n_iter_)
