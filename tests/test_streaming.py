"""Mini-batch fits, partial_fit and the streaming state agree with the full-batch fit."""

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans

from skwvq import WassersteinVQ
from skwvq.metrics import codebook_perplexity, codebook_utilization, quantization_error
from skwvq.streaming import Reservoir, RunningMoments


@pytest.fixture(scope="module")
def far_stream():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(60000, 8)) + 8.0
    init = rng.normal(size=(128, 8))
    return X, init


def scores(X, codebook):
    return (
        quantization_error(X, codebook),
        codebook_utilization(X, codebook),
        codebook_perplexity(X, codebook),
    )


@pytest.mark.parametrize("alignment", ["sliced", "gaussian"])
def test_minibatch_fit_agrees_with_full_batch(far_stream, alignment):
    X, init = far_stream
    common = dict(alignment=alignment, init=init, random_state=0)
    full = WassersteinVQ(128, **common).fit(X)
    mini = WassersteinVQ(128, batch_size=2000, max_iter=40, **common).fit(X)
    E_full, U_full, C_full = scores(X, full.codebook_)
    E_mini, U_mini, C_mini = scores(X, mini.codebook_)
    assert E_mini <= 1.05 * E_full
    assert U_mini >= U_full - 0.02
    assert C_mini >= 0.98 * C_full
    assert mini.n_iter_ == len(mini.history_["E"]) <= 40


def test_partial_fit_streams_to_the_same_quality(far_stream):
    X, init = far_stream
    full = WassersteinVQ(128, init=init, random_state=0).fit(X)
    stream = WassersteinVQ(128, init=init, random_state=0, alignment_decay=0.99)
    for _epoch in range(3):
        for batch in np.array_split(X, 30):
            stream.partial_fit(batch)
    E_full, U_full, _ = scores(X, full.codebook_)
    E_stream, U_stream, _ = scores(X, stream.codebook_)
    assert E_stream <= 1.05 * E_full
    assert U_stream >= U_full - 0.02
    assert stream.n_iter_ == 90 and len(stream.history_["J"]) == 90
    assert stream.labels_.shape == (len(X) // 30,)


def test_partial_fit_with_zero_alignment_is_minibatch_kmeans_without_reassignment():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5, size=(6, 3))
    X = centres[rng.integers(6, size=3000)] + rng.normal(size=(3000, 3))
    init = X[:6].copy()
    vq = WassersteinVQ(6, init=init, alignment_weight=0.0)
    mbk = MiniBatchKMeans(6, init=init, n_init=1, reassignment_ratio=0.0)
    for batch in np.array_split(X, 10):
        vq.partial_fit(batch)
        mbk.partial_fit(batch)
    np.testing.assert_allclose(vq.codebook_, mbk.cluster_centers_, rtol=1e-10)


def test_partial_fit_continues_a_fitted_estimator(blobs):
    vq = WassersteinVQ(8, random_state=0, max_iter=5).fit(blobs)
    before = vq.codebook_.copy()
    vq.partial_fit(blobs[:100])
    assert vq.codebook_.shape == before.shape and not np.array_equal(
        vq.codebook_, before
    )
    with pytest.raises(ValueError, match="X has 3 features"):
        vq.partial_fit(blobs[:100, :3])


def test_first_partial_fit_needs_enough_rows(blobs):
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=8"):
        WassersteinVQ(8).partial_fit(blobs[:5])


def test_minibatch_fit_from_memmap(tmp_path, far_stream):
    X, init = far_stream
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float32))
    mapped = np.load(path, mmap_mode="r")
    vq = WassersteinVQ(128, init=init, batch_size=5000, max_iter=5, random_state=0)
    vq.fit(mapped)
    assert vq.codebook_.dtype == np.float32
    assert codebook_utilization(mapped, vq.codebook_) >= 0.95


def test_running_moments_match_batch_moments():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3)) + 4.0
    w = rng.uniform(0, 2, 500)
    moments = RunningMoments(3)
    for rows in np.array_split(np.arange(500), 9):
        moments.add(X[rows], w[rows])
    np.testing.assert_allclose(moments.mean, np.average(X, axis=0, weights=w))
    np.testing.assert_allclose(moments.cov, np.cov(X.T, aweights=w, bias=True))


def test_reservoir_is_a_uniform_sample_of_the_stream():
    rng = np.random.RandomState(0)
    reservoir = Reservoir(capacity=2000, n_features=1)
    for start in range(0, 100_000, 1000):
        batch = np.arange(start, start + 1000, dtype=float)[:, None]
        reservoir.add(batch, np.ones(1000), rng)
    sample, masses = reservoir.sample()
    assert sample.shape == (2000, 1) and len(np.unique(sample)) == 2000
    # Uniform over the stream: early and late rows are equally likely.
    assert abs(np.mean(sample) - 49_999.5) < 3 * 28_868 / np.sqrt(2000)
    assert reservoir.n_seen == 100_000 and masses.sum() == pytest.approx(1.0)
