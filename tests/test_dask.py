"""Fits, inference and metrics on dask arrays, against the numpy fit of the same data.

The numpy fit is the reference: for the same data, init and ``random_state``
a Dask fit must give its codebook (same iterations, same labels, float
tolerance) however the rows are chunked. The cluster tests start a
``LocalCluster`` of two worker processes on 127.0.0.1 and stop it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import skwvq._solver  # noqa: E402
from skwvq import WassersteinVQ  # noqa: E402
from skwvq.metrics import (  # noqa: E402
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
    vq_scores,
    wasserstein_distance,
)

N_CLUSTERS = 24
CODEBOOK_ATOL = 1e-9


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=4.0, size=(6, 5))
    return centres[rng.integers(6, size=3000)] + rng.normal(size=(3000, 5))


def fitted_pair(X, chunks, weights=None, dask_weights=False, **params):
    params = dict(n_clusters=N_CLUSTERS, random_state=0, max_iter=15) | params
    reference = WassersteinVQ(**params).fit(X, sample_weight=weights)
    if weights is not None and dask_weights:
        weights = da.from_array(weights, chunks=500)
    on_dask = WassersteinVQ(**params).fit(
        da.from_array(X, chunks=chunks), sample_weight=weights
    )
    return reference, on_dask


def assert_same_fit(reference, on_dask):
    assert on_dask.n_iter_ == reference.n_iter_
    assert on_dask.n_steps_ == reference.n_steps_
    np.testing.assert_allclose(
        on_dask.codebook_, reference.codebook_, rtol=1e-9, atol=CODEBOOK_ATOL
    )
    labels = on_dask.labels_
    assert isinstance(labels, da.Array)  # lazy, as the data
    np.testing.assert_array_equal(labels.compute(), reference.labels_)
    assert on_dask.inertia_ == pytest.approx(reference.inertia_, rel=1e-10)
    for key, values in reference.history_.items():
        np.testing.assert_allclose(on_dask.history_[key], values, rtol=1e-8)


@pytest.mark.parametrize("chunks", [3000, 1000, 701, (250, 5)])
@pytest.mark.parametrize("alignment", ["sliced", "gaussian", "exact"])
def test_dask_fit_is_the_numpy_fit_whatever_the_chunks(X, chunks, alignment):
    reference, on_dask = fitted_pair(X, chunks, alignment=alignment)
    assert_same_fit(reference, on_dask)


@pytest.mark.parametrize("init", ["auto", "k-means++", "random", "gaussian"])
def test_every_init_draws_the_same_rows(X, init):
    assert_same_fit(*fitted_pair(X, 640, init=init))


def test_callable_init_receives_the_dask_array(X):
    seen = []

    def init(data, n_clusters, random_state):
        seen.append(type(data))
        return np.asarray(data[:n_clusters])

    on_dask = WassersteinVQ(N_CLUSTERS, init=init, max_iter=3, random_state=0)
    on_dask.fit(da.from_array(X, chunks=500))
    assert seen == [da.Array]
    reference = WassersteinVQ(
        N_CLUSTERS, init=X[:N_CLUSTERS], max_iter=3, random_state=0
    )
    reference.fit(X)
    np.testing.assert_allclose(on_dask.codebook_, reference.codebook_, atol=1e-9)


@pytest.mark.parametrize("dask_weights", [False, True])
def test_weighted_dask_fit(X, dask_weights):
    weights = np.random.default_rng(1).uniform(0.0, 3.0, len(X))
    weights[::7] = 0.0
    assert_same_fit(*fitted_pair(X, 800, weights, dask_weights=dask_weights))


@pytest.mark.parametrize("chunks", [3000, 450])
def test_mini_batch_dask_fit_takes_the_numpy_batches(X, chunks):
    assert_same_fit(*fitted_pair(X, chunks, batch_size=256, max_iter=4))


def test_float32_and_integer_dask_arrays(X):
    reference, on_dask = fitted_pair(X.astype(np.float32), 700)
    assert on_dask.codebook_.dtype == np.float32
    np.testing.assert_allclose(on_dask.codebook_, reference.codebook_, atol=1e-4)
    integers = np.round(X * 10).astype(np.int32)
    reference, on_dask = fitted_pair(integers, 700)
    assert on_dask.codebook_.dtype == np.float64
    assert_same_fit(reference, on_dask)


def test_dask_dataframe_of_numeric_columns(X):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    on_dask = WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=5)
    on_dask.fit(dd.from_pandas(frame, npartitions=3))
    reference = WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=5).fit(frame)
    np.testing.assert_allclose(on_dask.codebook_, reference.codebook_, atol=1e-9)
    np.testing.assert_array_equal(
        on_dask.feature_names_in_, reference.feature_names_in_
    )
    frame["label"] = "a"
    with pytest.raises(ValueError, match="numeric columns"):
        WassersteinVQ(N_CLUSTERS).fit(dd.from_pandas(frame, npartitions=3))


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda X: np.where(np.arange(len(X))[:, None] == 2000, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(len(X))[:, None] == 5, np.inf, X), "infinity"),
        (lambda X: X[:, 0], "2D"),
        (lambda X: X[:10], "n_samples=10 should be >= n_clusters"),
    ],
)
def test_bad_dask_input_is_refused_and_changes_nothing(X, bad, match):
    vq = WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=3).fit(X)
    before = {
        k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in vars(vq).items()
    }
    with pytest.raises(ValueError, match=match):
        vq.fit(da.from_array(bad(X), chunks=700))
    assert vars(vq).keys() == before.keys()
    np.testing.assert_array_equal(vq.codebook_, before["codebook_"])
    with pytest.raises(ValueError, match="sample_weight"):
        vq.fit(da.from_array(X, chunks=700), sample_weight=np.ones(5))
    with pytest.raises(TypeError, match="Incremental"):
        vq.partial_fit(da.from_array(X, chunks=700))
    np.testing.assert_array_equal(vq.codebook_, before["codebook_"])


def test_torch_backend_refuses_dask_input(X):
    pytest.importorskip("torch")
    with pytest.raises(TypeError, match="numpy kernels on its workers"):
        WassersteinVQ(N_CLUSTERS, backend="torch").fit(da.from_array(X, chunks=700))


def graph_keys(collection):
    return dict(collection.__dask_graph__())


@pytest.fixture(scope="module")
def fitted(X):
    return WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=5).fit(X)


@pytest.mark.parametrize("encode", ["quantized", "distance", "onehot", "ordinal"])
def test_inference_is_lazy_and_equals_numpy(X, fitted, encode):
    import scipy.sparse as sp

    fitted.set_params(encode=encode)
    lazy_X = da.from_array(X, chunks=700)
    labels = fitted.predict(lazy_X)
    assert isinstance(labels, da.Array) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels.compute(), fitted.predict(X))
    encoded = fitted.transform(lazy_X)
    assert isinstance(encoded, da.Array)
    expected = fitted.transform(X)
    got = encoded.compute()
    if sp.issparse(expected):
        expected, got = expected.toarray(), got.toarray()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    if encode in ("quantized", "ordinal", "distance"):
        decoded = fitted.inverse_transform(da.from_array(expected, chunks=(700, -1)))
        assert isinstance(decoded, da.Array)
        np.testing.assert_allclose(
            decoded.compute(), fitted.inverse_transform(expected)
        )
    fitted.set_params(encode="quantized")


def test_score_and_metrics_of_dask_arrays(X, fitted):
    lazy_X = da.from_array(X, chunks=600)
    weights = np.random.default_rng(2).uniform(0.5, 2.0, len(X))
    assert isinstance(fitted.score(lazy_X), float)
    assert fitted.score(lazy_X) == pytest.approx(fitted.score(X), rel=1e-12)
    assert fitted.score(lazy_X, sample_weight=weights) == pytest.approx(
        fitted.score(X, sample_weight=weights), rel=1e-12
    )
    codebook = fitted.codebook_
    for metric in (quantization_error, codebook_utilization, codebook_perplexity):
        assert metric(lazy_X, codebook) == pytest.approx(metric(X, codebook), rel=1e-12)
        assert metric(
            lazy_X, codebook, sample_weight=da.from_array(weights, chunks=1000)
        ) == pytest.approx(metric(X, codebook, sample_weight=weights), rel=1e-12)
    for method in ("gaussian", "sliced", "exact"):
        assert wasserstein_distance(
            lazy_X, codebook, method=method, random_state=0
        ) == pytest.approx(
            wasserstein_distance(X, codebook, method=method, random_state=0), rel=1e-9
        )
    lazy_scores, scores = vq_scores(fitted, lazy_X), vq_scores(fitted, X)
    assert lazy_scores == pytest.approx(scores, rel=1e-9)


def test_a_score_reads_the_rows_once_and_checks_them(X, fitted, monkeypatch):
    import skwvq._inputs._dask as dask_rows

    reads = []
    for name in ("_scan_block", "_code_statistics_block"):
        original = getattr(dask_rows, name)

        def counted(*args, name=name, original=original):
            reads.append(name)
            return original(*args)

        monkeypatch.setattr(dask_rows, name, counted)
    lazy_X = da.from_array(X, chunks=600)  # 5 blocks
    weights = da.from_array(np.full(len(X), 2.0), chunks=600)
    assert fitted.score(lazy_X, sample_weight=weights) == pytest.approx(
        2 * fitted.score(X), rel=1e-12
    )
    assert reads == ["_code_statistics_block"] * 5
    bad = X.copy()
    bad[1234, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinity"):
        fitted.score(da.from_array(bad, chunks=600))
    with pytest.raises(ValueError, match="Negative values"):
        fitted.score(lazy_X, sample_weight=da.from_array(-np.ones(len(X)), chunks=600))


def test_an_iteration_computes_one_small_graph(X, monkeypatch):
    """The codebook is one key of the graph (not inlined in each task), the reduction a tree."""
    import pickle

    from skwvq._inputs._dask import SPLIT_EVERY, DaskRows

    rows = DaskRows(da.from_array(X, chunks=100))  # 30 blocks of 4 kB
    rows.check_sample_weight(None, persist=True)
    graphs = []
    original = dask.base.compute

    def recording(*collections, **kwargs):
        graphs.extend(dict(c.__dask_graph__()) for c in collections)
        return original(*collections, **kwargs)

    monkeypatch.setattr(dask.base, "compute", recording)
    codebook = np.random.default_rng(3).normal(size=(400, X.shape[1]))  # 16 kB
    statistics = rows.code_statistics(codebook)
    assert len(graphs) == 1
    sizes = {key: len(pickle.dumps(task)) for key, task in graphs[0].items()}
    assert sum(size >= codebook.nbytes for size in sizes.values()) == 1
    block_tasks = [k for k in sizes if str(k).startswith("_code_statistics_block")]
    combine_tasks = [k for k in sizes if str(k).startswith("_add")]
    assert len(block_tasks) == 30
    # 30 -> 4 -> 1: a tree of fan-in SPLIT_EVERY, not a chain of 29 additions.
    assert len(combine_tasks) == -(-30 // SPLIT_EVERY) + 1
    nearest = ((X[:, None, :] - codebook[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(
        statistics.counts, np.bincount(nearest, minlength=len(codebook))
    )


def test_dask_ml_wrappers_stream_and_post_fit(X):
    wrappers = pytest.importorskip("dask_ml.wrappers")
    lazy_X = da.from_array(X, chunks=500)
    incremental = wrappers.Incremental(
        WassersteinVQ(N_CLUSTERS, random_state=0), shuffle_blocks=False
    )
    incremental.fit(lazy_X)
    reference = WassersteinVQ(N_CLUSTERS, random_state=0)
    for start in range(0, len(X), 500):
        reference.partial_fit(X[start : start + 500])
    np.testing.assert_allclose(
        incremental.estimator_.codebook_, reference.codebook_, atol=1e-9
    )
    post = wrappers.ParallelPostFit(
        WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=5)
    )
    post.fit(X)
    labels = post.predict(lazy_X)
    assert isinstance(labels, da.Array)
    np.testing.assert_array_equal(labels.compute(), post.estimator.predict(X))


# --------------------------------------------------------------------------- #
# A real cluster: two worker processes on 127.0.0.1
# --------------------------------------------------------------------------- #
def local_cluster(**kwargs):
    distributed = pytest.importorskip("distributed")
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        **kwargs,
    )


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    with local_cluster() as cluster, Client(cluster) as client:
        yield client


def test_fit_predict_score_on_a_local_cluster(X, client):
    reference, on_dask = fitted_pair(X, 500)
    assert_same_fit(reference, on_dask)
    assert len(client.scheduler_info()["workers"]) == 2
    lazy_X = da.from_array(X, chunks=500)
    np.testing.assert_array_equal(on_dask.predict(lazy_X).compute(), reference.labels_)
    assert on_dask.score(lazy_X) == pytest.approx(reference.score(X), rel=1e-10)


def test_a_worker_killed_mid_fit_is_survived(X, client, monkeypatch):
    """The nanny restarts the worker, Dask recomputes its blocks from lineage, the fit ends as undisturbed."""
    undisturbed = WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=12, tol=0).fit(X)
    step, steps = skwvq._solver.step, []
    pids = client.run(os.getpid)

    def step_then_kill(*args, **kwargs):
        steps.append(1)
        if len(steps) == 3:
            os.kill(next(iter(pids.values())), signal.SIGKILL)
        return step(*args, **kwargs)

    monkeypatch.setattr(skwvq._solver, "step", step_then_kill)
    on_dask = WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=12, tol=0)
    on_dask.fit(da.from_array(X, chunks=300))
    assert len(steps) == 12
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != set(pids.values())
    assert_same_fit(undisturbed, on_dask)


def test_retries_exhausted_raise_dasks_error_and_change_nothing(X):
    from distributed import Client, KilledWorker

    def crash(block):
        if block.size:  # not when dask calls it on an empty block for its meta
            os._exit(1)
        return block

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with local_cluster() as cluster, Client(cluster):
            vq = WassersteinVQ(N_CLUSTERS, random_state=0, max_iter=3).fit(X)
            codebook = vq.codebook_.copy()
            doomed = da.from_array(X, chunks=1000).map_blocks(crash, dtype=X.dtype)
            with pytest.raises(KilledWorker):
                vq.fit(doomed)
            np.testing.assert_array_equal(vq.codebook_, codebook)


# --------------------------------------------------------------------------- #
# Optional dependencies
# --------------------------------------------------------------------------- #
def run_python(code: str) -> None:
    subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=True, timeout=300
    )


def test_without_distributed_the_threaded_scheduler_fits():
    run_python(
        """
        import sys
        sys.modules["distributed"] = None  # as if not installed
        import numpy as np, dask.array as da
        from skwvq import WassersteinVQ
        X = np.random.default_rng(0).normal(size=(2000, 3))
        a = WassersteinVQ(16, random_state=0, max_iter=5).fit(X)
        b = WassersteinVQ(16, random_state=0, max_iter=5).fit(da.from_array(X, chunks=300))
        assert np.allclose(a.codebook_, b.codebook_)
        """
    )


def test_skwvq_never_imports_dask_itself():
    run_python(
        """
        import sys
        import numpy as np
        import skwvq, skwvq.metrics
        X = np.random.default_rng(0).normal(size=(500, 3))
        vq = skwvq.WassersteinVQ(8, max_iter=3).fit(X)
        vq.predict(X), vq.score(X), skwvq.metrics.quantization_error(X, vq.codebook_)
        assert "dask" not in sys.modules, "skwvq imported dask"
        """
    )
