"""A Dask fit scaled out: seconds, tasks and bytes per iteration as workers and N grow, beside dask-ml's KMeans and the numpy fit in one process.

Data: a mixture of 64 Gaussians in d = 16 (float32), generated lazily by the
workers (``dask.array.random``), in blocks of 250,000 rows (16 MB); the client
never holds it. Every arm starts from the same codebook (the first K = 256
rows) and runs a fixed number of iterations (``tol=0``):

- ``skwvq (dask)``: ``WassersteinVQ(init=codebook).fit(X)`` on a
  ``LocalCluster`` of 1 or 2 single-threaded worker processes on 127.0.0.1;
- ``dask-ml KMeans``: ``dask_ml.cluster.KMeans(init=codebook)`` (its Lloyd
  iterations) on the same cluster and the same persisted array;
- ``skwvq (numpy, one process)``: the same fit on the array computed into this
  process (2 cores), for N up to 10^7.

Seconds per iteration: for skwvq the median time between the ends of
consecutive iterations (statistics, alignment, update), which leaves out the
one-off setup (persisting, the first pass, the OT sample); for dask-ml,
``(t(1 + m iterations) - t(1 iteration)) / m``. Per iteration of the Dask fit,
measured on one extra iteration after the fit: tasks in its graph, bytes of
the graph sent by the client (the codebook is one key of it), bytes moved
between workers, and the bytes brought back (``K x (d + 2)`` float64).

Run: ``python benchmarks/dask_scaling.py`` (N in 10^6, 10^7, 10^8 with 1 and 2
workers; about 25 minutes on 2 cores) or ``--quick`` (10^5, 10^6). Writes
results/dask_scaling.csv.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

import skwvq._solver
from skwvq import WassersteinVQ

NAME = "dask_scaling"
DIM, N_CLUSTERS, N_CENTRES = 16, 256, 64
BLOCK_ROWS = 250_000
HEADER = [
    "workers",
    "n_samples",
    "method",
    "iterations",
    "s_per_iteration",
    "ratio_to_numpy",
    "ratio_to_dask_ml",
    "blocks",
    "tasks_per_iteration",
    "graph_bytes_per_iteration",
    "transfer_bytes_per_iteration",
    "result_bytes_per_iteration",
]


def lazy_data(n_samples: int, block_rows: int):
    """A Gaussian mixture generated block by block on the workers."""
    import dask.array as da

    centres = np.random.default_rng(1).normal(scale=3.0, size=(N_CENTRES, DIM))

    # A closure, which travels to the workers by value: they cannot import
    # this script. Each block's generator is seeded by the block's index.
    def mixture_block(block_info=None):
        n_rows = block_info[None]["chunk-shape"][0]
        rng = np.random.default_rng([0, block_info[None]["chunk-location"][0]])
        which = rng.integers(N_CENTRES, size=n_rows)
        noise = rng.standard_normal((n_rows, DIM), dtype=np.float32)
        return noise + centres[which].astype(np.float32)

    rows = [block_rows] * (n_samples // block_rows)
    if n_samples % block_rows:
        rows.append(n_samples % block_rows)
    return da.map_blocks(
        mixture_block,
        chunks=(tuple(rows), (DIM,)),
        dtype=np.float32,
        meta=np.empty((0, 0), np.float32),
    )


class IterationClock:
    """Times between the ends of consecutive solver iterations (``record_epoch`` calls)."""

    def __init__(self):
        self.ends: list[float] = []

    def __enter__(self):
        self.original = skwvq._solver.record_epoch

        def record(*args, **kwargs):
            self.original(*args, **kwargs)
            self.ends.append(time.perf_counter())

        skwvq._solver.record_epoch = record
        return self

    def __exit__(self, *exc):
        skwvq._solver.record_epoch = self.original

    def per_iteration(self) -> float:
        return float(np.median(np.diff(self.ends)))


def skwvq_seconds(X, codebook, iterations: int) -> float:
    with IterationClock() as clock:
        WassersteinVQ(
            N_CLUSTERS, init=codebook, max_iter=iterations, tol=0, random_state=0
        ).fit(X)
    return clock.per_iteration()


def dask_ml_seconds(X, codebook, iterations: int) -> float:
    from dask_ml.cluster import KMeans

    def run(max_iter):
        start = time.perf_counter()
        KMeans(n_clusters=N_CLUSTERS, init=codebook, max_iter=max_iter, tol=0).fit(X)
        return time.perf_counter() - start

    return (run(1 + iterations) - run(1)) / iterations


def one_iteration_traffic(client, X, codebook) -> dict:
    """Tasks, graph bytes, worker-to-worker bytes and result bytes of one iteration."""
    import dask

    from skwvq._inputs._dask import DaskRows

    rows = DaskRows(X)
    rows.check_sample_weight(None, persist=True)
    graphs = []
    compute = dask.base.compute

    def recording(*collections, **kwargs):
        graphs.extend(dict(c.__dask_graph__()) for c in collections)
        return compute(*collections, **kwargs)

    def moved(dask_worker):
        return dask_worker.transfer_outgoing_bytes_total

    dask.base.compute = recording
    try:
        before = sum(client.run(moved).values())
        rows.code_statistics(codebook)
        after = sum(client.run(moved).values())
    finally:
        dask.base.compute = compute
    # Keys of the iteration's own tasks are strings; the persisted blocks it
    # reads are (name, i, j) tuples, references to data already on the workers.
    tasks = {key: task for key, task in graphs[-1].items() if isinstance(key, str)}
    return dict(
        blocks=len(X.chunks[0]),
        tasks=len(tasks),
        graph_bytes=len(pickle.dumps(tasks)),
        transfer_bytes=after - before,
        result_bytes=N_CLUSTERS * (DIM + 2) * 8,
    )


def run(sizes, worker_counts, iterations, block_rows):
    """One row per (workers, N, method)."""
    from distributed import Client, LocalCluster

    rows = []
    baseline = {}
    for n_samples in sizes:
        if n_samples <= 10**7:
            X = lazy_data(n_samples, block_rows).compute()
            codebook = X[:N_CLUSTERS].copy()
            baseline[n_samples] = skwvq_seconds(X, codebook, iterations)
            del X
            rows.append(
                [2, n_samples, "skwvq (numpy, one process)", iterations]
                + [baseline[n_samples], 1.0, np.nan]
                + [1, np.nan, np.nan, np.nan, np.nan]
            )
            print(rows[-1], flush=True)
    for workers in worker_counts:
        with (
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                host="127.0.0.1",
                dashboard_address=None,
                memory_limit=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            for n_samples in sizes:
                X = lazy_data(n_samples, block_rows).persist()
                codebook = X[:N_CLUSTERS].compute()
                seconds = skwvq_seconds(X, codebook, iterations)
                traffic = one_iteration_traffic(client, X, codebook)
                numpy_seconds = baseline.get(n_samples, np.nan)
                dask_ml = np.nan
                if n_samples <= 10**7:
                    dask_ml = dask_ml_seconds(X, codebook, iterations)
                    rows.append(
                        [workers, n_samples, "dask-ml KMeans", iterations, dask_ml]
                        + [dask_ml / numpy_seconds, 1.0, traffic["blocks"]]
                        + [np.nan, np.nan, np.nan, np.nan]
                    )
                    print(rows[-1], flush=True)
                rows.append(
                    [workers, n_samples, "skwvq (dask)", iterations, seconds]
                    + [seconds / numpy_seconds, seconds / dask_ml, traffic["blocks"]]
                    + [traffic["tasks"], traffic["graph_bytes"]]
                    + [traffic["transfer_bytes"], traffic["result_bytes"]]
                )
                print(rows[-1], flush=True)
                del X
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N in 10^5, 10^6")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**6, 10**7, 10**8])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--iterations", type=int, default=4)
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the arms, print the table and write the CSV; return 0."""
    args = parse_args(argv)
    sizes, block_rows, iterations = args.sizes, BLOCK_ROWS, args.iterations
    if args.tiny:
        sizes, block_rows, iterations = [4000], 1000, 2
        args.workers = [2]
    elif args.quick:
        sizes, block_rows = [10**5, 10**6], 25_000
    print(machine_description())
    rows = run(sizes, args.workers, iterations, block_rows)
    print(format_table(HEADER, rows))
    name = NAME + ("-quick" if args.quick or args.tiny else "")
    print("wrote", _common.write_csv(name, HEADER, rows, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
