"""WassersteinVQ: the update rule, its special cases and the sklearn surface."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.metrics.pairwise import euclidean_distances

from skwvq import WassersteinVQ
from skwvq.alignment import weighted_moments
from skwvq.metrics import codebook_utilization, quantization_error


def data_rows_init(X, n_clusters, seed=0):
    rng = np.random.default_rng(seed)
    return X[rng.choice(len(X), n_clusters, replace=False)].copy()


@pytest.mark.parametrize("n_iter", [1, 3, 10])
@pytest.mark.parametrize("weighted", [False, True])
def test_zero_alignment_weight_is_lloyd(blobs, n_iter, weighted):
    init = data_rows_init(blobs, 8)
    weights = (
        np.random.default_rng(2).uniform(0.5, 2.0, len(blobs)) if weighted else None
    )
    vq = WassersteinVQ(8, alignment_weight=0.0, init=init, max_iter=n_iter, tol=0.0)
    vq.fit(blobs, sample_weight=weights)
    km = KMeans(8, init=init, n_init=1, algorithm="lloyd", max_iter=n_iter, tol=0.0)
    km.fit(blobs, sample_weight=weights)
    np.testing.assert_allclose(
        vq.codebook_, km.cluster_centers_, rtol=1e-10, atol=1e-10
    )
    np.testing.assert_array_equal(vq.labels_, km.labels_)
    assert vq.inertia_ == pytest.approx(km.inertia_, rel=1e-10)


def test_zero_alignment_weight_is_lloyd_in_float32(blobs):
    X = blobs.astype(np.float32)
    init = data_rows_init(X, 8)
    vq = WassersteinVQ(8, alignment_weight=0.0, init=init, max_iter=5, tol=0.0).fit(X)
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
def test_exact_alignment_never_increases_objective(target):
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
        ).fit(X)
        J = vq.history_["J"]
        increases = np.diff(J)
        assert np.all(increases <= 1e-9 * np.abs(J[:-1]) + 1e-12), (
            f"J increased: {J} (K={n_clusters}, g={g}, sample={sample_size})"
        )
        checked += len(J) > 1
    assert checked >= 20


def test_objective_is_recorded_consistently(blobs):
    vq = WassersteinVQ(8, alignment="exact", random_state=0, max_iter=12).fit(blobs)
    h = vq.history_
    assert set(h) == {"J", "E", "U", "C", "W", "alignment_weight"}
    assert all(len(v) == vq.n_iter_ for v in h.values())
    g = h["alignment_weight"]
    np.testing.assert_allclose(g, 0.1 * 0.95 ** np.arange(vq.n_iter_))
    np.testing.assert_allclose(h["J"], (1 - g) * h["E"] + g * h["W"] ** 2)
    assert np.all((h["U"] > 0) & (h["U"] <= 1)) and np.all(h["C"] >= 1)


@pytest.mark.parametrize(
    "target, scale", [("auto", 1.0), ("data", 1.0), ("quantization-optimal", 6 / 4)]
)
def test_gaussian_alignment_with_full_weight_matches_moments(target, scale):
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
    ).fit(X)
    data_mean, data_cov = weighted_moments(X)
    code_mean, code_cov = weighted_moments(vq.codebook_)
    np.testing.assert_allclose(code_mean, data_mean, atol=1e-8)
    np.testing.assert_allclose(code_cov, scale * data_cov, rtol=1e-7, atol=1e-8)
    if scale == 1.0:
        assert vq.history_["W"][-1] < 1e-6 * np.sqrt(np.trace(data_cov))


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
def test_no_code_stays_dead_from_a_far_init(far_init_problem, params):
    X, init = far_init_problem
    vq = WassersteinVQ(256, init=init, random_state=0, **params).fit(X)
    assert codebook_utilization(X, vq.codebook_) >= 0.98
    # Lloyd's rule from the same start (g = 0) leaves most codes dead ...
    lloyd = WassersteinVQ(256, init=init, alignment_weight=0.0, max_iter=50).fit(X)
    assert codebook_utilization(X, lloyd.codebook_) < 0.1
    # ... and WassersteinVQ's error is as low as KMeans's (which reseeds empty clusters).
    km = KMeans(256, init=init, n_init=1, max_iter=100).fit(X)
    assert quantization_error(X, vq.codebook_) <= 1.03 * km.inertia_ / len(X)


@pytest.mark.parametrize("alignment", ["gaussian", "sliced", "exact"])
def test_float32_stays_float32(blobs, alignment):
    X = blobs.astype(np.float32)
    vq = WassersteinVQ(8, alignment=alignment, random_state=0, max_iter=5).fit(X)
    assert vq.codebook_.dtype == np.float32
    assert vq.cluster_centers_ is vq.codebook_
    assert vq.transform(X).dtype == np.float32
    assert vq.set_params(encode="distance").transform(X).dtype == np.float32
    assert np.all(np.isfinite(vq.history_["J"]))


def test_encodings_and_their_inverse(blobs):
    vq = WassersteinVQ(8, random_state=0, max_iter=10).fit(blobs)
    labels = vq.predict(blobs)
    np.testing.assert_array_equal(labels, vq.labels_)
    np.testing.assert_array_equal(vq.fit_predict(blobs), vq.labels_)
    decoded = vq.codebook_[labels]

    expected = {
        "quantized": decoded,
        "distance": euclidean_distances(blobs, vq.codebook_),
        "ordinal": labels[:, None],
    }
    for encode, want in expected.items():
        vq.set_params(encode=encode)
        got = vq.transform(blobs)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        np.testing.assert_array_equal(vq.inverse_transform(got), decoded)
    vq.set_params(encode="onehot")
    onehot = vq.transform(blobs)
    assert sp.issparse(onehot) and onehot.shape == (len(blobs), 8)
    np.testing.assert_array_equal(onehot.toarray().argmax(1), labels)
    np.testing.assert_array_equal(onehot.sum(1).A1, 1)
    np.testing.assert_array_equal(vq.inverse_transform(onehot), decoded)


def test_inverse_transform_rejects_codes_out_of_range(blobs):
    vq = WassersteinVQ(8, encode="ordinal", random_state=0, max_iter=3).fit(blobs)
    with pytest.raises(ValueError, match="codes must lie in"):
        vq.inverse_transform(np.array([[8]]))


def test_score_is_minus_inertia(blobs):
    vq = WassersteinVQ(8, random_state=0, max_iter=10).fit(blobs)
    assert vq.score(blobs) == pytest.approx(-vq.inertia_)
    assert vq.score(blobs) == pytest.approx(
        -len(blobs) * quantization_error(blobs, vq.codebook_)
    )
    weights = np.full(len(blobs), 2.0)
    assert vq.score(blobs, sample_weight=weights) == pytest.approx(2 * vq.score(blobs))


def test_integer_weights_equal_repeated_rows_for_gaussian_alignment(blobs):
    weights = np.random.default_rng(0).integers(1, 4, len(blobs))
    init = data_rows_init(blobs, 8)
    common = dict(alignment="gaussian", init=init, max_iter=8, tol=0.0)
    weighted = WassersteinVQ(8, **common).fit(blobs, sample_weight=weights)
    repeated = WassersteinVQ(8, **common).fit(np.repeat(blobs, weights, axis=0))
    np.testing.assert_allclose(
        weighted.codebook_, repeated.codebook_, rtol=1e-9, atol=1e-9
    )


def test_stops_when_codebook_settles(blobs):
    vq = WassersteinVQ(8, random_state=0, max_iter=500, alignment="gaussian").fit(blobs)
    assert vq.n_iter_ < 500


def test_feature_names_and_pandas_output(blobs):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(blobs, columns=["a", "b", "c", "d"])
    vq = WassersteinVQ(8, random_state=0, max_iter=5).set_output(transform="pandas")
    out = vq.fit(frame).transform(frame)
    assert list(out.columns) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(vq.get_feature_names_out(), ["a", "b", "c", "d"])
    vq.set_params(encode="distance")
    assert list(vq.transform(frame).columns) == [f"wassersteinvq{k}" for k in range(8)]
    vq.set_params(encode="ordinal")
    assert list(vq.transform(frame).columns) == ["wassersteinvq_code"]


def test_verbose_prints_progress(blobs, capsys):
    WassersteinVQ(8, random_state=0, max_iter=2, tol=0.0, verbose=1).fit(blobs)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Iteration 0: J=")


@pytest.mark.parametrize("alignment", ["sliced", "exact"])
def test_auto_target_is_quantization_optimal_for_sample_based_alignments(
    blobs, alignment
):
    common = dict(alignment=alignment, max_iter=5, random_state=0)
    auto = WassersteinVQ(8, **common).fit(blobs)
    explicit = WassersteinVQ(8, target="quantization-optimal", **common).fit(blobs)
    data = WassersteinVQ(8, target="data", **common).fit(blobs)
    np.testing.assert_array_equal(auto.codebook_, explicit.codebook_)
    assert not np.array_equal(auto.codebook_, data.codebook_)
