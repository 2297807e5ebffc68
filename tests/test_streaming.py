"""Mini-batch fits, partial_fit and the streaming state agree with the full-batch fit.

The fits run on every backend (the ``backend`` fixture, conftest.py) and are
held to references fitted without them: numpy full-batch fits and
``MiniBatchKMeans``.
"""

import numpy as np
import pytest
from sklearn.cluster import MiniBatchKMeans

from skwvq import WassersteinVQ
from skwvq._moments import Moments
from skwvq.metrics import codebook_perplexity, codebook_utilization, quantization_error
from skwvq.streaming import Reservoir

N_CLUSTERS = 64


@pytest.fixture(scope="module")
def far_stream(make_problem):
    """20,000 rows far from a codebook of 64 codes, and full-batch numpy fits of them."""
    X, init = make_problem(n_samples=20000, n_clusters=N_CLUSTERS)
    references = {}

    def full_batch_scores(**params):
        key = tuple(sorted(params.items()))
        if key not in references:
            full = WassersteinVQ(
                N_CLUSTERS, init=init, random_state=0, backend="numpy", **params
            ).fit(X)
            references[key] = scores(X, full.codebook_)
        return references[key]

    return X, init, full_batch_scores


def scores(X, codebook):
    return (
        quantization_error(X, codebook),
        codebook_utilization(X, codebook),
        codebook_perplexity(X, codebook),
    )


@pytest.mark.parametrize("alignment", ["sliced", "gaussian"])
def test_minibatch_fit_agrees_with_full_batch(far_stream, alignment, backend):
    X, init, full_batch_scores = far_stream
    E_full, U_full, C_full = full_batch_scores(alignment=alignment)
    # Run to the end: the smoothed-error rule stops this far start after 4
    # epochs, with C 2.8% below the full batch for sliced (see StoppingRule).
    mini = WassersteinVQ(
        N_CLUSTERS,
        alignment=alignment,
        init=init,
        random_state=0,
        batch_size=1000,
        max_iter=20,
        max_no_improvement=None,
        **backend.params,
    ).fit(backend.asarray(X))
    backend.assert_fitted_here(mini)
    E_mini, U_mini, C_mini = scores(X, mini.codebook_)
    assert E_mini <= 1.05 * E_full
    assert U_mini >= U_full - 0.02
    assert C_mini >= 0.98 * C_full
    assert mini.n_iter_ == len(mini.history_["E"]) == 20
    # Every row once per epoch, in batches of at most batch_size rows.
    assert mini.n_steps_ >= 20 * 20
    # Every row labelled by its nearest code.
    np.testing.assert_array_equal(
        mini.labels_, ((X[:, None] - mini.codebook_) ** 2).sum(-1).argmin(1)
    )


def test_partial_fit_streams_to_the_same_quality(far_stream, backend):
    X, init, full_batch_scores = far_stream
    E_full, U_full, _ = full_batch_scores()
    stream = WassersteinVQ(
        N_CLUSTERS, init=init, random_state=0, alignment_decay=0.99, **backend.params
    )
    batches = np.array_split(X, 20)
    for _epoch in range(3):
        for batch in batches:
            stream.partial_fit(backend.asarray(batch))
    backend.assert_fitted_here(stream)
    E_stream, U_stream, _ = scores(X, stream.codebook_)
    assert E_stream <= 1.05 * E_full
    assert U_stream >= U_full - 0.02
    assert stream.n_iter_ == 60 and len(stream.history_["J"]) == 60
    # labels_ and inertia_ describe the last batch, assigned to the codebook
    # that entered its step (as history_ measures each step's entering codebook).
    entering = stream.codebook_.copy()
    last = batches[0]
    stream.partial_fit(backend.asarray(last))
    d2 = ((last[:, None] - entering) ** 2).sum(-1)
    np.testing.assert_array_equal(stream.labels_, d2.argmin(1))
    assert stream.inertia_ == pytest.approx(d2.min(1).sum(), rel=1e-9)


def test_partial_fit_with_zero_alignment_is_minibatch_kmeans_without_reassignment(
    backend,
):
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=5, size=(6, 3))
    X = centres[rng.integers(6, size=3000)] + rng.normal(size=(3000, 3))
    init = X[:6].copy()
    # MiniBatchKMeans's counts are lifelong: statistics that never forget.
    vq = WassersteinVQ(
        6, init=init, alignment_weight=0.0, stats_horizon=np.inf, **backend.params
    )
    mbk = MiniBatchKMeans(6, init=init, n_init=1, reassignment_ratio=0.0)
    for batch in np.array_split(X, 10):
        vq.partial_fit(backend.asarray(batch))
        mbk.partial_fit(batch)
    np.testing.assert_allclose(vq.codebook_, mbk.cluster_centers_, rtol=1e-10)


def test_partial_fit_continues_a_fitted_estimator(blobs, backend):
    X = backend.asarray(blobs)
    vq = WassersteinVQ(8, random_state=0, max_iter=5, **backend.params).fit(X)
    before = vq.codebook_.copy()
    # Without alignment, the first step moves each code that the batch uses to
    # the mean of its rows there: a Lloyd step from the fitted codebook.
    vq.set_params(alignment_weight=0.0).partial_fit(X[:100])
    batch = blobs[:100]
    labels = ((batch[:, None] - before) ** 2).sum(-1).argmin(1)
    expected = before.copy()
    for k in np.unique(labels):
        expected[k] = batch[labels == k].mean(axis=0)
    assert not np.allclose(expected, before)
    np.testing.assert_allclose(vq.codebook_, expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(ValueError, match="X has 3 features"):
        vq.partial_fit(X[:100, :3])


def test_first_partial_fit_needs_enough_rows(blobs, backend):
    with pytest.raises(ValueError, match="n_samples=5 should be >= n_clusters=8"):
        WassersteinVQ(8, **backend.params).partial_fit(backend.asarray(blobs[:5]))


def test_minibatch_fit_from_memmap(tmp_path, far_stream):
    X, init, _ = far_stream
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float32))
    mapped = np.load(path, mmap_mode="r")
    vq = WassersteinVQ(
        N_CLUSTERS, init=init, batch_size=5000, max_iter=5, random_state=0
    )
    vq.fit(mapped)
    assert vq.codebook_.dtype == np.float32
    assert codebook_utilization(mapped, vq.codebook_) >= 0.95


def test_running_moments_match_batch_moments():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) @ rng.normal(size=(3, 3)) + 4.0
    w = rng.uniform(0, 2, 500)
    moments = Moments.empty(3)
    for rows in np.array_split(np.arange(500), 9):
        moments = moments.merge(Moments.of(X[rows], w[rows]))
    np.testing.assert_allclose(moments.mean, np.average(X, axis=0, weights=w))
    np.testing.assert_allclose(moments.cov, np.cov(X.T, aweights=w, bias=True))


def test_reservoir_is_a_uniform_sample_of_the_stream():
    rng = np.random.RandomState(0)
    reservoir = Reservoir(capacity=2000)
    state = reservoir.start(1)
    for start in range(0, 100_000, 1000):
        batch = np.arange(start, start + 1000, dtype=float)[:, None]
        reservoir.add(state, batch, np.ones(1000), rng)
    sample, masses = reservoir.sample(state)
    assert sample.shape == (2000, 1) and len(np.unique(sample)) == 2000
    # Uniform over the stream: early and late rows are equally likely.
    assert abs(np.mean(sample) - 49_999.5) < 3 * 28_868 / np.sqrt(2000)
    assert reservoir.n_seen(state) == 100_000 and masses.sum() == pytest.approx(1.0)
