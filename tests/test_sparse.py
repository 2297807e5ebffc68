"""Sparse (CSR) input: the same results as on the densified data, without densifying X.

References are independent of the sparse code: a float64 brute-force argmin,
numpy sums over dense rows, sklearn's ``kmeans_plusplus``, and the same
estimator fitted on ``X.toarray()``.
"""

import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import kmeans_plusplus

from skwvq import WassersteinVQ, metrics
from skwvq.alignment import default_n_projections, sliced_data_side, sliced_targets
from skwvq.alignment._sliced import random_directions
from skwvq.initialization import kmeans_plusplus_rows
from skwvq.kernels import assign_sparse


def sparse_data(n_samples=1500, n_features=120, density=0.05, seed=0, dtype=None):
    """Non-negative sparse rows with a few dense-ish groups, as bag-of-words features are."""
    X = sp.random(
        n_samples, n_features, density=density, random_state=seed, format="csr"
    )
    groups = np.random.default_rng(seed).integers(0, 4, n_samples)
    X = X + sp.csr_matrix(
        (np.ones(n_samples), (np.arange(n_samples), groups)), shape=X.shape
    )
    X = sp.csr_matrix(X)
    return X if dtype is None else X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_assignment_matches_a_float64_argmin(dtype):
    X = sparse_data(dtype=dtype)
    codebook = np.random.default_rng(1).uniform(0, 0.5, (24, X.shape[1])).astype(dtype)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, X.shape[0])
    result = assign_sparse(X, codebook, sample_weight=weights)
    dense = X.toarray().astype(np.float64)
    sq = ((dense[:, None, :] - codebook.astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(result.labels, sq.argmin(1))
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(result.sq_distances, sq.min(1), rtol=rtol, atol=1e-5)
    assert result.sq_distances.dtype == dtype
    expected_counts = np.bincount(result.labels, weights, minlength=24)
    np.testing.assert_allclose(result.counts, expected_counts)
    expected_sums = np.zeros_like(codebook, dtype=np.float64)
    np.add.at(expected_sums, result.labels, weights[:, None] * dense)
    np.testing.assert_allclose(result.sums, expected_sums, rtol=1e-6)


def test_duplicate_entries_are_summed_before_norms_are_taken():
    rows, cols = np.array([0, 0, 1]), np.array([2, 2, 0])
    X = sp.coo_matrix((np.array([1.0, 2.0, 5.0]), (rows, cols)), shape=(2, 3))
    codebook = np.array([[0.0, 0.0, 3.0], [5.0, 0.0, 0.0]])
    result = assign_sparse(X.tocsr(), codebook)
    np.testing.assert_array_equal(result.labels, [0, 1])
    np.testing.assert_allclose(result.sq_distances, [0.0, 0.0])


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_seeding_chooses_the_rows_of_sklearns_kmeans_plusplus(weighted):
    X = sparse_data()
    rng = np.random.default_rng(3)
    weights = rng.uniform(0.2, 3.0, X.shape[0]) if weighted else np.ones(X.shape[0])
    _, expected = kmeans_plusplus(
        X, 20, sample_weight=weights, random_state=np.random.RandomState(0)
    )
    rows = kmeans_plusplus_rows(X, 20, weights, np.random.RandomState(0))
    np.testing.assert_array_equal(rows, expected)
    # Continuing from existing centres picks the rows that dense rows give.
    closest = np.full(X.shape[0], 4.0)
    continued = kmeans_plusplus_rows(X, 5, weights, np.random.RandomState(1), closest)
    dense = kmeans_plusplus_rows(
        X.toarray(), 5, weights, np.random.RandomState(1), closest
    )
    np.testing.assert_array_equal(continued, dense)


def test_sparse_seeding_never_doubles_a_duplicated_row():
    X = sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 1.0], [3.0, 0.0]]))
    rows = kmeans_plusplus_rows(X, 3, np.ones(3), np.random.RandomState(0))
    assert sorted(X.toarray()[rows].tolist()) == [[0.0, 1.0], [3.0, 0.0]]


FIT_PARAMS = [
    {"alignment": "sliced"},
    {"alignment": "gaussian"},
    {"alignment": "sliced", "batch_size": 300},
    {"alignment": "sliced", "init": "random", "target": "data"},
]


@pytest.mark.parametrize(
    "params", FIT_PARAMS, ids=lambda p: "-".join(map(str, p.values()))
)
def test_sparse_fit_equals_the_fit_on_densified_data(params):
    X = sparse_data()
    # The default number of sliced directions counts a sparse sample's stored
    # entries, so both fits are given the same number.
    common = dict(n_clusters=16, init="k-means++", n_projections=64, random_state=0)
    common.update(params)
    on_sparse = WassersteinVQ(**common).fit(X)
    on_dense = WassersteinVQ(**common).fit(X.toarray())
    assert on_sparse.n_iter_ == on_dense.n_iter_
    np.testing.assert_array_equal(on_sparse.labels_, on_dense.labels_)
    np.testing.assert_allclose(
        on_sparse.codebook_, on_dense.codebook_, rtol=1e-5, atol=1e-7
    )
    assert on_sparse.inertia_ == pytest.approx(on_dense.inertia_, rel=1e-9)


def test_sparse_exact_alignment_gives_the_dense_error():
    # Exact OT plans are degenerate (uniform masses); rounding may pick another
    # vertex, so the check is on the quantizer, not code by code.
    X = sparse_data()
    params = dict(n_clusters=16, alignment="exact", init="k-means++", random_state=0)
    on_sparse = WassersteinVQ(**params).fit(X)
    on_dense = WassersteinVQ(**params).fit(X.toarray())
    assert on_sparse.inertia_ == pytest.approx(on_dense.inertia_, rel=1e-3)
    assert np.unique(on_sparse.labels_).size == 16


def test_partial_fit_on_sparse_batches_equals_dense_batches():
    X = sparse_data()
    streams = [WassersteinVQ(16, n_projections=64, random_state=0) for _ in range(2)]
    for start in range(0, X.shape[0], 300):
        streams[0].partial_fit(X[start : start + 300])
        streams[1].partial_fit(X[start : start + 300].toarray())
    np.testing.assert_allclose(streams[0].codebook_, streams[1].codebook_, atol=1e-10)


@pytest.mark.parametrize("encode", ["quantized", "distance", "onehot", "ordinal"])
def test_inference_on_sparse_input_equals_dense(encode):
    X = sparse_data()
    vq = WassersteinVQ(16, encode=encode, random_state=0).fit(X)
    dense = X.toarray()

    def as_dense(a):
        return a.toarray() if sp.issparse(a) else a

    np.testing.assert_array_equal(vq.predict(X), vq.predict(dense))
    np.testing.assert_allclose(as_dense(vq.transform(X)), as_dense(vq.transform(dense)))
    assert vq.score(X) == pytest.approx(vq.score(dense), rel=1e-12)
    decoded = vq.inverse_transform(vq.transform(X[:10]))
    np.testing.assert_allclose(decoded, vq.codebook_[vq.predict(X[:10])])
    fitted_once = WassersteinVQ(16, encode=encode, random_state=0).fit_transform(X)
    np.testing.assert_allclose(as_dense(fitted_once), as_dense(vq.transform(X)))
    if encode == "quantized":  # sparse in, sparse out
        assert sp.issparse(vq.transform(X))


def test_metrics_accept_sparse_input():
    X = sparse_data()
    codebook = WassersteinVQ(16, random_state=0).fit(X).codebook_
    weights = np.random.default_rng(0).uniform(0.5, 2.0, X.shape[0])
    for metric in (
        metrics.quantization_error,
        metrics.codebook_utilization,
        metrics.codebook_perplexity,
    ):
        expected = metric(X.toarray(), codebook, sample_weight=weights)
        assert metric(X, codebook, sample_weight=weights) == pytest.approx(expected)
    for method in ("gaussian", "sliced", "exact"):
        expected = metrics.wasserstein_distance(
            X.toarray(), codebook, method=method, random_state=0
        )
        got = metrics.wasserstein_distance(X, codebook, method=method, random_state=0)
        assert got == pytest.approx(expected, rel=1e-6)


def test_other_sparse_formats_are_converted():
    X = sparse_data()
    reference = WassersteinVQ(8, random_state=0).fit(X)
    for fmt in ("csc", "coo", "lil"):
        vq = WassersteinVQ(8, random_state=0).fit(X.asformat(fmt))
        np.testing.assert_array_equal(vq.codebook_, reference.codebook_)


def test_a_sparse_fit_never_densifies_x():
    # Densified, X would take 6.4 GB. The fit holds the nonzeros, the dense
    # codebook and sliced directions (a few times 64 x d) and the neighbour
    # search's distance chunks over the OT sample, none of which grows with n x d.
    n_samples, n_features = 4000, 200_000
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(n_samples), 20)
    columns = rng.integers(n_features, size=rows.size)
    X = sp.csr_matrix(
        (rng.random(rows.size), (rows, columns)), shape=(n_samples, n_features)
    )
    tracemalloc.start()
    try:
        vq = WassersteinVQ(8, max_iter=3, random_state=0).fit(X)
        vq.predict(X)
        vq.score(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * n_samples * n_features * 8, peak
    assert np.unique(vq.labels_).size == 8


def test_torch_backend_refuses_sparse_input_and_changes_nothing():
    pytest.importorskip("torch")
    X = sparse_data()
    vq = WassersteinVQ(8, backend="numpy", random_state=0).fit(X)
    codebook = vq.codebook_.copy()
    vq.set_params(backend="torch", device="cpu")
    with pytest.raises(TypeError, match="Sparse X runs on the numpy backend only"):
        vq.fit(X)
    np.testing.assert_array_equal(vq.codebook_, codebook)
    assert vq.backend_ == "numpy"


def test_gaussian_alignment_refuses_a_covariance_too_large():
    X = sp.random(50, 20_000, density=1e-3, random_state=0, format="csr")
    with pytest.raises(ValueError, match="20000 x 20000 covariance"):
        WassersteinVQ(8, alignment="gaussian").fit(X)


def test_sliced_default_directions_count_a_sparse_samples_entries():
    X = sp.random(2000, 5000, density=1e-3, random_state=0, format="csr")
    assert default_n_projections(X) == 64
    assert default_n_projections(X.toarray()) == 3355  # 2**24 entries at d = 5000
    assert default_n_projections(np.zeros((10, 100))) == 200


def test_fewer_directions_than_features_move_a_translated_codebook_by_its_projection():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(64, 50))
    shift = rng.normal(size=50)
    directions = random_directions(50, 8, np.random.RandomState(0))
    data_side = sliced_data_side(sample, np.full(64, 1 / 64), directions, 64)
    targets, _ = sliced_targets(sample - shift, directions, *data_side)
    # Along each direction the codes are the data translated, so each moves by
    # the shift's component on the directions' span.
    np.testing.assert_allclose(
        targets - (sample - shift),
        np.tile(directions @ (directions.T @ shift), (64, 1)),
        atol=1e-10,
    )
