"""Fit time of WassersteinVQ against KMeans, MiniBatchKMeans and faiss.Kmeans, side by side.

Three tables, every method started from the same initial codebook:

1. per-iteration wall time at the same iteration count (``tol=0``), N up to 10^6,
   with each WassersteinVQ iteration split into assignment, alignment and update;
2. on the mismatched-init case (d=8, data N(8*1, I), codebook N(0, I)), the time
   WassersteinVQ needs to reach faiss.Kmeans's final E with U >= 0.99, against
   faiss's own fit time;
3. the cost of each ``init`` against one fit.

Run: ``python benchmarks/fit.py`` (~15 minutes on 2 cores) or ``--quick``.
Writes results/fit-*.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.utils import check_random_state

sys.path.insert(0, str(Path(__file__).parent))
from _common import format_table, machine_description, median_time, write_csv  # noqa: E402

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.alignment import ALIGNMENTS  # noqa: E402
from skwvq.datasets import mismatched_gaussian  # noqa: E402
from skwvq.initialization import initial_codebook  # noqa: E402
from skwvq.kernels import assign  # noqa: E402
from skwvq.metrics import codebook_utilization, quantization_error  # noqa: E402
from skwvq.update import update_codebook  # noqa: E402

try:
    import faiss
except ImportError:
    faiss = None


def faiss_kmeans(X, init, n_iter):
    # faiss trains on at most 256 points per centroid by default; use them all,
    # so that every method does the same work per iteration.
    model = faiss.Kmeans(
        X.shape[1], len(init), niter=n_iter, seed=0, max_points_per_centroid=len(X)
    )
    model.train(np.ascontiguousarray(X), init_centroids=np.ascontiguousarray(init))
    return model


def split_iteration(X, init, alignment, repeats):
    """Median seconds of one iteration's assignment, alignment and update."""
    n, k = X.shape[0], init.shape[0]
    rng = check_random_state(0)
    method = ALIGNMENTS[alignment]
    align = method.from_data(
        X,
        None,
        n_codes=k,
        target=method.default_target,
        sample_size=method.default_sample_size(k, n),
        rng=rng,
    )
    t_assign, stats = median_time(lambda: assign(X, init), repeats)
    t_align, (targets, _) = median_time(lambda: align.targets(init), repeats)
    t_update, _ = median_time(
        lambda: update_codebook(init, stats.counts / n, stats.sums / n, targets, 0.1),
        repeats,
    )
    return t_assign, t_align, t_update


def time_methods(X, init, n_iter, repeats, alignments):
    """Median fit seconds of every method from ``init`` for ``n_iter`` iterations."""
    k = init.shape[0]
    makers = {
        "KMeans(n_init=1)": lambda: KMeans(
            k, init=init, n_init=1, max_iter=n_iter, tol=0
        ).fit(X),
        "MiniBatchKMeans": lambda: MiniBatchKMeans(
            k, init=init, n_init=1, max_iter=n_iter, batch_size=4096
        ).fit(X),
    }
    if faiss is not None:
        makers = {"faiss.Kmeans": lambda: faiss_kmeans(X, init, n_iter), **makers}
    for alignment in alignments:
        makers[f"WassersteinVQ({alignment})"] = lambda alignment=alignment: (
            WassersteinVQ(
                k, alignment=alignment, init=init, max_iter=n_iter, tol=0
            ).fit(X)
        )
    return {name: median_time(make, repeats)[0] for name, make in makers.items()}


def per_iteration_table(sizes, d, k, n_iter, repeats, alignments):
    header = [
        "N",
        "method",
        "s/iter",
        "ratio to faiss",
        "assign s",
        "align s",
        "update s",
        "align/assign",
    ]
    rows = []
    rng = np.random.default_rng(0)
    for n in sizes:
        X = rng.normal(size=(n, d)).astype(np.float32)
        init = X[rng.choice(n, k, replace=False)].copy()
        timings = time_methods(X, init, n_iter, repeats, alignments)
        splits = {
            f"WassersteinVQ({a})": split_iteration(X, init, a, repeats)
            for a in alignments
        }
        reference = timings.get("faiss.Kmeans", float("nan")) / n_iter
        for name, seconds in timings.items():
            per_iter = seconds / n_iter
            a, b, c = splits.get(name, (float("nan"),) * 3)
            rows.append([n, name, per_iter, per_iter / reference, a, b, c, b / a])
        print(format_table(header, [r for r in rows if r[0] == n]), flush=True)
    return header, rows


def time_to_faiss_error(n, k, repeats, alignments):
    """Seconds for WassersteinVQ to reach faiss's final E (with U >= 0.99) from a far init."""
    X, init = mismatched_gaussian(n_samples=n, n_clusters=k, random_state=0)
    X, init = X.astype(np.float32), init.astype(np.float32)
    header = ["method", "fit s", "iterations", "E", "U", "time / faiss time"]
    rows = []
    faiss_seconds = float("nan")
    if faiss is not None:
        faiss_seconds, model = median_time(lambda: faiss_kmeans(X, init, 25), repeats)
        goal = quantization_error(X, model.centroids)
        rows.append(
            [
                "faiss.Kmeans (25 iter)",
                faiss_seconds,
                25,
                goal,
                codebook_utilization(X, model.centroids),
                1.0,
            ]
        )
    else:
        km = KMeans(k, init=init, n_init=1, max_iter=25).fit(X)
        goal = km.inertia_ / n
    for alignment in alignments:
        full = WassersteinVQ(k, alignment=alignment, init=init, random_state=0).fit(X)
        reached = np.flatnonzero(
            (full.history_["E"] <= goal) & (full.history_["U"] >= 0.99)
        )
        n_iter = int(reached[0]) if reached.size else full.n_iter_
        seconds, vq = median_time(
            lambda n_iter=n_iter, alignment=alignment: WassersteinVQ(
                k,
                alignment=alignment,
                init=init,
                max_iter=max(n_iter, 1),
                random_state=0,
            ).fit(X),
            repeats,
        )
        rows.append(
            [
                f"WassersteinVQ({alignment})",
                seconds,
                n_iter,
                quantization_error(X, vq.codebook_),
                codebook_utilization(X, vq.codebook_),
                seconds / faiss_seconds,
            ]
        )
    print(f"\nmismatched init, N={n}, d=8, K={k}: time to reach faiss's final E")
    print(format_table(header, rows), flush=True)
    return header, rows


def init_cost_table(n, d, sizes, repeats):
    """Seconds of each ``init`` against a default fit (from ``init="auto"``), float32.

    Full k-means++ is timed once: it costs about as much as the fit.
    """
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, d)).astype(np.float32)
    weights = np.ones(n, dtype=np.float32)
    header = [
        "K",
        "init",
        "seconds",
        "fraction of a default fit",
        "default fit s",
        "fit iterations",
    ]
    rows = []
    for k in sizes:
        fit_seconds, fit = median_time(
            lambda k=k: WassersteinVQ(k, random_state=0).fit(X), 1
        )
        for init in ("auto", "random", "gaussian", "k-means++"):
            seconds, _ = median_time(
                lambda init=init, k=k: initial_codebook(
                    X, k, init, weights, check_random_state(0)
                ),
                1 if init == "k-means++" else repeats,
            )
            rows.append(
                [k, init, seconds, seconds / fit_seconds, fit_seconds, fit.n_iter_]
            )
    print(f"\ninit cost, N={n}, d={d}")
    print(format_table(header, rows), flush=True)
    return header, rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(machine_description())
    suffix = "-quick" if args.quick else ""
    if args.quick:
        sizes, k, time_n, time_k, init_sizes = (20_000,), 256, 20_000, 256, (256,)
    else:
        sizes, k, time_n, time_k, init_sizes = (
            (100_000, 1_000_000),
            1024,
            200_000,
            1024,
            (1024, 4096),
        )
    alignments = ("sliced", "gaussian", "exact")
    print(f"\nper iteration, d=64, K={k}, 10 iterations, float32")
    header, rows = per_iteration_table(sizes, 64, k, 10, args.repeats, alignments)
    write_csv(f"fit-iteration{suffix}", header, rows)
    header, rows = time_to_faiss_error(
        time_n, time_k, args.repeats, ("sliced", "gaussian")
    )
    write_csv(f"fit-time-to-target{suffix}", header, rows)
    header, rows = init_cost_table(
        200_000 if not args.quick else 20_000, 64, init_sizes, args.repeats
    )
    write_csv(f"fit-init{suffix}", header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
