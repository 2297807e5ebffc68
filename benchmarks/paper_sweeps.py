"""E, U and C as the codebook size K, the dimension d and the number of samples N grow.

Gaussian data ``N(0, I_d)``; three one-parameter sweeps around d = 8, K = 256,
N = 20,000: K in 2^6 ... 2^14 (K > N/4 skipped), d in 2 ... 128, N in 2,500 ...
80,000 (K = 256). Methods: ``WassersteinVQ`` with its defaults (``init="auto"``),
``WassersteinVQ(target="data")`` (the paper's target, matching the data density
itself) and ``KMeans`` (k-means++, ``n_init=1``). The figure plots the ratio
E(WassersteinVQ) / E(KMeans) against d (and against K and N): the paper's theory
says that in high dimension the E-optimal codebook distribution approaches the
data distribution (its density is proportional to ``p^{d/(d+2)}``), so the gap of
the data-matching target should shrink as d grows.

Run: ``python benchmarks/paper_sweeps.py`` (estimated 10 minutes on 2 cores) or
``--quick`` (tiny sizes, seconds). Writes results/paper_sweeps.csv and
docs/figures/paper_sweeps.png (``-quick`` suffix in quick mode; ``--out DIR`` puts
both in DIR).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq import WassersteinVQ
from skwvq.metrics import (
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
)

NAME = "paper_sweeps"
METHODS = ("WVQ (default)", "WVQ (target=data)", "KMeans++")
HEADER = [
    "sweep",
    "n_clusters",
    "n_features",
    "n_samples",
    "method",
    "E",
    "U",
    "C",
    "E_ratio_to_kmeans",
    "fit_s",
    "n_iter",
]


@dataclass(frozen=True)
class Grid:
    """The three sweeps and the point they share."""

    n_clusters: int
    n_features: int
    n_samples: int
    cluster_sizes: tuple[int, ...]
    dimensions: tuple[int, ...]
    sample_sizes: tuple[int, ...]


FULL = Grid(
    n_clusters=256,
    n_features=8,
    n_samples=20000,
    cluster_sizes=tuple(2**p for p in range(6, 15)),
    dimensions=(2, 4, 8, 16, 32, 64, 128),
    sample_sizes=(2500, 5000, 10000, 20000, 40000, 80000),
)
QUICK = Grid(
    n_clusters=32,
    n_features=8,
    n_samples=2000,
    cluster_sizes=(16, 32, 64),
    dimensions=(2, 8, 32),
    sample_sizes=(1000, 2000, 4000),
)
TINY = Grid(
    n_clusters=16,
    n_features=4,
    n_samples=800,
    cluster_sizes=(16,),
    dimensions=(2, 16),
    sample_sizes=(400,),
)


def cases(grid: Grid) -> list[tuple[str, int, int, int]]:
    """(sweep, K, d, N) of every run; K above N/4 is skipped."""
    out = [
        ("K", k, grid.n_features, grid.n_samples)
        for k in grid.cluster_sizes
        if k <= grid.n_samples // 4
    ]
    out += [("d", grid.n_clusters, d, grid.n_samples) for d in grid.dimensions]
    out += [
        ("N", grid.n_clusters, grid.n_features, n)
        for n in grid.sample_sizes
        if grid.n_clusters <= n // 4
    ]
    return out


def warm_up() -> None:
    """Fit every estimator once on tiny data, so that timings leave out one-off
    costs (numba's cache loading, first calls into BLAS and POT)."""
    X = np.random.default_rng(0).normal(size=(512, 3))
    for alignment in ("sliced", "gaussian", "exact"):
        WassersteinVQ(8, alignment=alignment, max_iter=3, random_state=0).fit(X)
    KMeans(8, n_init=1, random_state=0).fit(X)


def fit_method(method: str, X: np.ndarray, n_clusters: int, seed: int):
    """Fit one method; return the codebook, the fit time and the iterations run."""
    if method == "KMeans++":
        model = KMeans(n_clusters, n_init=1, random_state=seed)
    else:
        target = "data" if "data" in method else "auto"
        model = WassersteinVQ(n_clusters, target=target, random_state=seed)
    start = time.perf_counter()
    model.fit(X)
    return model.cluster_centers_, time.perf_counter() - start, int(model.n_iter_)


def run_case(
    sweep: str, n_clusters: int, n_features: int, n_samples: int, seed: int
) -> list[list]:
    """CSV rows of every method on one Gaussian data set."""
    X = np.random.default_rng([seed, n_features, n_samples]).normal(
        size=(n_samples, n_features)
    )
    rows = []
    for method in METHODS:
        codebook, elapsed, n_iter = fit_method(method, X, n_clusters, seed)
        rows.append(
            [
                sweep,
                n_clusters,
                n_features,
                n_samples,
                method,
                quantization_error(X, codebook),
                codebook_utilization(X, codebook),
                codebook_perplexity(X, codebook),
                np.nan,
                elapsed,
                n_iter,
            ]
        )
    reference = rows[METHODS.index("KMeans++")][5]
    for row in rows:
        row[8] = row[5] / reference
    return rows


def plot(rows: list[list], path: Path) -> Path | None:
    """E ratio to KMeans++ (top) and C/K (bottom) against d, K and N."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: figure skipped")
        return None
    fig, axes = plt.subplots(2, 3, figsize=(14, 8), constrained_layout=True)
    panels = (
        ("d", 2, "dimension d"),
        ("K", 1, "codebook size K"),
        ("N", 3, "samples N"),
    )
    fixed = {"d": ("K", 1, "N", 3), "K": ("d", 2, "N", 3), "N": ("K", 1, "d", 2)}
    for j, (sweep, column, label) in enumerate(panels):
        subset = [r for r in rows if r[0] == sweep]
        if not subset:
            continue
        for method, marker in zip(METHODS, "os^"):
            points = sorted(
                (r[column], r[8], r[7] / r[1]) for r in subset if r[4] == method
            )
            x, ratio, evenness = np.array(points, dtype=float).T
            if method != "KMeans++":
                axes[0, j].plot(x, ratio, marker=marker, label=method)
            axes[1, j].plot(x, evenness, marker=marker, label=method)
        axes[0, j].axhline(1.0, color="k", lw=0.8, ls="--", label="KMeans++")
        axes[0, j].set_ylabel("E / E(KMeans++)")
        axes[1, j].set_ylabel("C / K (perplexity per code)")
        a, ia, b, ib = fixed[sweep]
        axes[0, j].set_title(
            f"against {label} ({a}={subset[0][ia]}, {b}={subset[0][ib]})"
        )
        for ax in axes[:, j]:
            ax.set_xscale("log", base=2)
            ax.set_xlabel(label)
            ax.grid(alpha=0.3)
    axes[0, 0].legend()
    axes[1, 0].legend()
    fig.suptitle("Gaussian data N(0, I): WassersteinVQ against KMeans++ (n_init=1)")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes")
    parser.add_argument("--seed", type=int, default=0)
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the three sweeps, print one table each, write the CSV and the figure.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (``sys.argv[1:]`` when None).

    Returns
    -------
    int
        Exit status (0).
    """
    args = parse_args(argv)
    grid = TINY if args.tiny else QUICK if args.quick else FULL
    quick = args.quick or args.tiny
    print(machine_description())
    print(
        f"Gaussian N(0, I); shared point K={grid.n_clusters}, d={grid.n_features}, "
        f"N={grid.n_samples}; K > N/4 skipped; seed {args.seed}"
    )
    warm_up()
    rows, done = [], {}
    for sweep, n_clusters, n_features, n_samples in cases(grid):
        key = (n_clusters, n_features, n_samples)
        if key not in done:  # the shared point is run once, reported in each sweep
            done[key] = run_case(sweep, *key, args.seed)
            print(f"  K={n_clusters} d={n_features} N={n_samples} done", flush=True)
        rows += [[sweep, *row[1:]] for row in done[key]]
    header = ["K", "d", "N", "method", "E", "U", "C", "E/E(KMeans++)", "fit s", "iters"]
    for sweep, title in (
        ("K", "codebook size K"),
        ("d", "dimension d"),
        ("N", "samples N"),
    ):
        print(f"\nSweep over {title}")
        print(format_table(header, [r[1:] for r in rows if r[0] == sweep]))
    suffix = "-quick" if quick else ""
    results = args.out or _common.RESULTS
    figures = args.out or _common.FIGURES
    print(f"\nwrote {_common.write_csv(NAME + suffix, HEADER, rows, results)}")
    figures.mkdir(parents=True, exist_ok=True)
    figure = plot(rows, figures / f"{NAME}{suffix}.png")
    if figure is not None:
        print(f"wrote {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
