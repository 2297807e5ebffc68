"""WassersteinVQ: the update rule, its special cases and the sklearn surface, on every backend.

Each test takes the ``backend`` fixture (conftest.py): the data go in as that
backend's native arrays, results come back through ``backend.to_numpy`` (which
also checks that tensors in gave tensors on the same device out), and are held
to references computed without the estimator: sklearn's KMeans, numpy.
"""

import re

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics.pairwise import euclidean_distances

from skwvq import WassersteinVQ
from skwvq._sources import batch_count
from skwvq.alignment import weighted_moments
from skwvq.metrics import codebook_utilization, quantization_error

# torch warns that sparse CSR tensors (the "onehot" encoding of tensors) are beta.
pytestmark = pytest.mark.filterwarnings("ignore:Sparse:UserWarning")


def data_rows_init(X, n_clusters, seed=0):
    rng = np.random.default_rng(seed)
    return X[rng.choice(len(X), n_clusters, replace=False)].copy()


@pytest.mark.parametrize("n_iter", [1, 3, 10])
@pytest.mark.parametrize("weighted", [False, True])
def test_zero_alignment_weight_is_lloyd(blobs, n_iter, weighted, backend):
    init = data_rows_init(blobs, 8)
    weights = (
        np.random.default_rng(2).uniform(0.5, 2.0, len(blobs)) if weighted else None
    )
    vq = WassersteinVQ(
        8, alignment_weight=0.0, init=init, max_iter=n_iter, tol=0.0, **backend.params
    )
    vq.fit(
        backend.asarray(blobs),
        sample_weight=None if weights is None else backend.asarray(weights),
    )
    backend.assert_fitted_here(vq)
    km = KMeans(8, init=init, n_init=1, algorithm="lloyd", max_iter=n_iter, tol=0.0)
    km.fit(blobs, sample_weight=weights)
    np.testing.assert_allclose(
        vq.codebook_, km.cluster_centers_, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_array_equal(vq.labels_, km.labels_)
    assert vq.inertia_ == pytest.approx(km.inertia_, rel=1e-10)


def test_zero_alignment_weight_is_lloyd_in_float32(blobs, backend):
    X = blobs.astype(np.float32)
    init = data_rows_init(X, 8)
    vq = WassersteinVQ(
        8, alignment_weight=0.0, init=init, max_iter=5, tol=0.0, **backend.params
    ).fit(backend.asarray(X))
    km = KMeans(8, init=init, n_init=1, max_iter=5, tol=0.0).fit(X)
    assert vq.codebook_.dtype == np.float32
    np.testing.assert_allclose(vq.codebook_, km.cluster_centers_, rtol=1e-5, atol=1e-5)


def random_problems(n_problems, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n_problems):
        n_features = int(rng.integers(1, 6))
        n_clusters = int(rng.integers(2, 21))
        n_samples = int(rng.integers(n_clusters, 300))
        shift = rng.uniform(0, 6)
        X = rng.standard_t(df=3, size=(n_samples, n_features)) + shift
        g = float(rng.uniform(0.02, 1.0))
        sample_size = (
            None if rng.random() < 0.5 else int(rng.integers(n_clusters, n_samples + 1))
        )
        yield X, n_clusters, g, sample_size, int(rng.integers(1 << 30))


@pytest.mark.parametrize("target", ["data", "quantization-optimal"])
def test_exact_alignment_never_increases_objective(target, backend):
    checked = 0
    for X, n_clusters, g, sample_size, seed in random_problems(30, seed=len(target)):
        vq = WassersteinVQ(
            n_clusters,
            alignment="exact",
            target=target,
            alignment_weight=g,
            alignment_decay=1.0,
            ot_sample_size=sample_size,
            init="gaussian",
            max_iter=15,
            tol=0.0,
            random_state=seed,
            **backend.params,
        ).fit(backend.asarray(X))
        J = vq.history_["J"]
        increases = np.diff(J)
        # An iteration that leaves a code without rows re-seeds it on a data
        # row, trading W^2 for E (docs/algorithm.md): the bound holds for the
        # others.
        all_used = vq.history_["U"][:-1] == 1.0
        assert np.all(increases[all_used] <= 1e-9 * np.abs(J[:-1][all_used]) + 1e-12), (
            f"J increased: {J} (K={n_clusters}, g={g}, sample={sample_size})"
        )
        checked += int(all_used.sum() > 0)
    assert checked >= 20


def test_objective_is_recorded_consistently(blobs, backend):
    init = data_rows_init(blobs, 8)
    vq = WassersteinVQ(
        8, alignment="exact", init=init, random_state=0, max_iter=12, **backend.params
    ).fit(backend.asarray(blobs))
    h = vq.history_
    assert set(h) == {"J", "E", "U", "C", "W", "alignment_weight"}
    assert all(isinstance(v, np.ndarray) for v in h.values())
    assert all(len(v) == vq.n_iter_ for v in h.values())
    g = h["alignment_weight"]
    np.testing.assert_allclose(g[:-1], 0.05 * 0.8 ** np.arange(vq.n_iter_ - 1))
    # The last iteration, once the assignment has settled, is a Lloyd step.
    assert g[-1] == 0.0 and np.isnan(h["W"][-1])
    alignment_term = np.where(g > 0, g * h["W"] ** 2, 0.0)
    np.testing.assert_allclose(h["J"], (1 - g) * h["E"] + alignment_term)
    assert np.all((h["U"] > 0) & (h["U"] <= 1)) and np.all(h["C"] >= 1)
    # The first entry measures the codebook entering the first iteration.
    assert h["E"][0] == pytest.approx(quantization_error(blobs, init), rel=1e-9)
    assert h["U"][0] == codebook_utilization(blobs, init)


@pytest.mark.parametrize(
    "target, scale", [("auto", 1.0), ("data", 1.0), ("quantization-optimal", 6 / 4)]
)
def test_gaussian_alignment_with_full_weight_matches_moments(target, scale, backend):
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(4, 4))
    X = rng.normal(size=(5000, 4)) @ mixing + np.array([1.0, -2.0, 3.0, 0.5])
    vq = WassersteinVQ(
        300,
        alignment="gaussian",
        target=target,
        alignment_weight=1.0,
        alignment_decay=1.0,
        init="random",
        max_iter=3,
        random_state=0,
        **backend.params,
    ).fit(backend.asarray(X))
    data_mean, data_cov = weighted_moments(X)
    code_mean, code_cov = weighted_moments(vq.codebook_)
    np.testing.assert_allclose(code_mean, data_mean, atol=1e-8)
    np.testing.assert_allclose(code_cov, scale * data_cov, rtol=1e-7, atol=1e-8)
    if scale == 1.0:
        assert vq.history_["W"][-1] < 1e-6 * np.sqrt(np.trace(data_cov))


def lloyd_without_reseeding(X, codebook, n_iter):
    """Plain Lloyd iterations in numpy: an empty code stays where it is."""
    codebook = codebook.copy()
    for _ in range(n_iter):
        labels = euclidean_distances(X, codebook, squared=True).argmin(axis=1)
        for k in np.unique(labels):
            codebook[k] = X[labels == k].mean(axis=0)
    return codebook


@pytest.fixture(scope="module")
def far_start(make_problem):
    """A far start (every code ~23 away from the data) and KMeans's fit from it."""
    X, init = make_problem(n_samples=4000, n_clusters=64)
    # Lloyd's rule from this start leaves most codes dead ...
    lloyd = lloyd_without_reseeding(X, init, 50)
    assert codebook_utilization(X, lloyd) < 0.1
    # ... while KMeans reseeds its empty clusters.
    km = KMeans(64, init=init, n_init=1, max_iter=100).fit(X)
    return X, init, km.inertia_ / len(X)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"alignment": "gaussian", "target": "data"},
        {"alignment": "sliced", "target": "data"},
        {"alignment": "exact", "target": "data"},
    ],
    ids=["defaults", "gaussian", "sliced", "exact"],
)
def test_no_code_stays_dead_from_a_far_init(far_start, params, backend):
    X, init, kmeans_error = far_start
    vq = WassersteinVQ(64, init=init, random_state=0, **params, **backend.params)
    vq.fit(backend.asarray(X))
    assert codebook_utilization(X, vq.codebook_) >= 0.98
    # WassersteinVQ's error is as low as that of KMeans, which reseeds.
    assert quantization_error(X, vq.codebook_) <= 1.03 * kmeans_error


@pytest.mark.parametrize("alignment", ["gaussian", "sliced", "exact"])
def test_float32_stays_float32(blobs, alignment, backend):
    X = backend.asarray(blobs.astype(np.float32))
    vq = WassersteinVQ(
        8, alignment=alignment, random_state=0, max_iter=5, **backend.params
    ).fit(X)
    assert vq.codebook_.dtype == np.float32
    assert vq.cluster_centers_ is vq.codebook_
    assert backend.to_numpy(vq.transform(X)).dtype == np.float32
    distances = vq.set_params(encode="distance").transform(X)
    assert backend.to_numpy(distances).dtype == np.float32
    assert np.all(np.isfinite(vq.history_["J"]))


def test_encodings_and_their_inverse(blobs, backend):
    X = backend.asarray(blobs)
    vq = WassersteinVQ(8, random_state=0, max_iter=10, **backend.params).fit(X)
    labels = backend.to_numpy(vq.predict(X))
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, vq.labels_)
    expected_labels = euclidean_distances(blobs, vq.codebook_).argmin(axis=1)
    np.testing.assert_array_equal(labels, expected_labels)
    refit = WassersteinVQ(8, random_state=0, max_iter=10, **backend.params)
    np.testing.assert_array_equal(backend.to_numpy(refit.fit_predict(X)), vq.labels_)
    decoded = vq.codebook_[labels]

    expected = {
        "quantized": decoded,
        "distance": euclidean_distances(blobs, vq.codebook_),
        "ordinal": labels[:, None],
    }
    for encode, want in expected.items():
        vq.set_params(encode=encode)
        got = vq.transform(X)
        np.testing.assert_allclose(backend.to_numpy(got), want, rtol=1e-9, atol=1e-9)
        inverse = backend.to_numpy(vq.inverse_transform(got))
        np.testing.assert_array_equal(inverse, decoded)
    vq.set_params(encode="onehot")
    onehot = vq.transform(X)
    onehot_numpy = backend.to_numpy(onehot)
    assert onehot_numpy.shape == (len(blobs), 8)
    np.testing.assert_array_equal(onehot_numpy.toarray().argmax(1), labels)
    np.testing.assert_array_equal(onehot_numpy.sum(1).A1, 1)
    np.testing.assert_array_equal(
        backend.to_numpy(vq.inverse_transform(onehot)), decoded
    )


def test_inverse_transform_rejects_codes_out_of_range(blobs, backend):
    vq = WassersteinVQ(
        8, encode="ordinal", random_state=0, max_iter=3, **backend.params
    ).fit(backend.asarray(blobs))
    with pytest.raises(ValueError, match="codes must lie in"):
        vq.inverse_transform(backend.asarray(np.array([[8]])))


def test_score_is_minus_inertia(blobs, backend):
    X = backend.asarray(blobs)
    vq = WassersteinVQ(8, random_state=0, max_iter=10, **backend.params).fit(X)
    score = vq.score(X)
    assert isinstance(score, float)
    assert score == pytest.approx(-vq.inertia_)
    assert score == pytest.approx(-len(blobs) * quantization_error(blobs, vq.codebook_))
    weights = np.random.default_rng(1).uniform(0.0, 3.0, len(blobs))
    nearest = euclidean_distances(blobs, vq.codebook_, squared=True).min(axis=1)
    assert vq.score(X, sample_weight=backend.asarray(weights)) == pytest.approx(
        -np.sum(weights * nearest)
    )


def test_integer_weights_equal_repeated_rows_for_gaussian_alignment(blobs, backend):
    weights = np.random.default_rng(0).integers(1, 4, len(blobs))
    init = data_rows_init(blobs, 8)
    common = dict(alignment="gaussian", init=init, max_iter=8, tol=0.0)
    weighted = WassersteinVQ(8, **common, **backend.params).fit(
        backend.asarray(blobs), sample_weight=backend.asarray(weights)
    )
    repeated = WassersteinVQ(8, **common, **backend.params).fit(
        backend.asarray(np.repeat(blobs, weights, axis=0))
    )
    np.testing.assert_allclose(
        weighted.codebook_, repeated.codebook_, rtol=1e-9, atol=1e-9
    )
    # The weights mattered: without them the codebook is another.
    unweighted = WassersteinVQ(8, **common, **backend.params).fit(
        backend.asarray(blobs)
    )
    assert np.abs(unweighted.codebook_ - weighted.codebook_).max() > 1e-3


def test_stops_when_codebook_settles(blobs, backend):
    vq = WassersteinVQ(
        8, random_state=0, max_iter=500, alignment="gaussian", **backend.params
    ).fit(backend.asarray(blobs))
    assert vq.n_iter_ < 500


def test_same_random_state_gives_the_same_run(blobs, backend):
    X = backend.asarray(blobs)
    params = dict(n_clusters=8, max_iter=5, tol=0.0, **backend.params)
    first = WassersteinVQ(random_state=7, **params).fit(X)
    second = WassersteinVQ(random_state=7, **params).fit(X)
    other = WassersteinVQ(random_state=8, **params).fit(X)
    atol = backend.rerun_atol  # bit for bit on the CPU
    np.testing.assert_allclose(first.codebook_, second.codebook_, rtol=0, atol=atol)
    np.testing.assert_allclose(
        first.history_["W"], second.history_["W"], rtol=0, atol=atol
    )
    # The seed is what made them equal.
    assert np.abs(first.codebook_ - other.codebook_).max() > 1e-3


def test_feature_names_and_pandas_output(blobs, backend):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs, columns=["a", "b", "c", "d"])
    vq = WassersteinVQ(8, random_state=0, max_iter=5, **backend.params)
    vq.set_output(transform="pandas")
    out = vq.fit(frame).transform(frame)
    backend.assert_fitted_here(vq)
    assert list(out.columns) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(out.to_numpy(), vq.codebook_[vq.labels_])
    np.testing.assert_array_equal(vq.get_feature_names_out(), ["a", "b", "c", "d"])
    vq.set_params(encode="distance")
    assert list(vq.transform(frame).columns) == [f"wassersteinvq{k}" for k in range(8)]
    vq.set_params(encode="ordinal")
    assert list(vq.transform(frame).columns) == ["wassersteinvq_code"]


def test_verbose_prints_progress(blobs, capsys, backend):
    WassersteinVQ(
        8, random_state=0, max_iter=2, tol=0.0, verbose=1, **backend.params
    ).fit(backend.asarray(blobs))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Iteration 0: J=")
    # Each line ends with the seconds since fit began, which never go back.
    seconds = [float(re.search(r"\(([0-9.]+) s\)$", line).group(1)) for line in lines]
    assert 0 <= seconds[0] <= seconds[1]


def test_verbose_2_reports_mini_batch_progress(blobs, capsys, progress_reporter):
    X = np.tile(blobs, (8, 1))
    WassersteinVQ(
        8,
        batch_size=100,
        max_iter=2,
        tol=0.0,
        max_no_improvement=None,
        verbose=2,
        random_state=0,
    ).fit(X)
    captured = capsys.readouterr()
    assert captured.out.count("Iteration ") == 2
    # Both reporters name each epoch and its number of batches (tqdm erases
    # its finished bars; the plain lines count up to the total).
    n_batches = batch_count(len(X), 100)
    for epoch in (0, 1):
        assert re.search(rf"epoch {epoch}: .*\b[0-9]+/{n_batches}\b", captured.err)
    if progress_reporter == "no tqdm":
        assert f"epoch 1: {n_batches}/{n_batches}" in captured.err


@pytest.mark.parametrize("alignment", ["sliced", "exact"])
def test_auto_target_is_quantization_optimal_for_sample_based_alignments(
    blobs, alignment, backend
):
    X = backend.asarray(blobs)
    common = dict(
        alignment=alignment,
        alignment_weight=0.5,
        alignment_decay=1.0,
        max_iter=5,
        random_state=0,
        **backend.params,
    )
    auto = WassersteinVQ(8, **common).fit(X)
    explicit = WassersteinVQ(8, target="quantization-optimal", **common).fit(X)
    data = WassersteinVQ(8, target="data", **common).fit(X)
    np.testing.assert_allclose(
        auto.codebook_, explicit.codebook_, rtol=0, atol=backend.rerun_atol
    )
    assert np.abs(auto.codebook_ - data.codebook_).max() > 1e-3


def test_from_codebook_is_a_fitted_estimator_of_those_codes(blobs):
    X = blobs
    codebook = X[:8].copy()
    vq = WassersteinVQ.from_codebook(codebook, X, encode="ordinal")
    np.testing.assert_array_equal(vq.codebook_, codebook)
    nearest = ((X[:, None, :] - codebook[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(vq.labels_, nearest.argmin(1))
    assert vq.inertia_ == pytest.approx(nearest.min(1).sum())
    np.testing.assert_array_equal(vq.transform(X)[:, 0], nearest.argmin(1))
    with pytest.raises(ValueError, match="X has 2 features but the codebook has"):
        WassersteinVQ.from_codebook(codebook, X[:, :2])
    with pytest.raises(ValueError, match="encode"):
        WassersteinVQ.from_codebook(codebook, encode="bits")
