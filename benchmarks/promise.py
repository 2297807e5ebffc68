"""The README's promise on every data set: no dead code, k-means++'s error or better, stopped in time.

On a grid of data sets, a default ``WassersteinVQ`` fit against ``KMeans(init="k-means++",
n_init=1)``, both fitted and measured on the same training data, medians of 3 seeds:

- standardized digits (``StandardScaler`` on ``load_digits``), K in {64, 256};
- digits scaled to [0, 1], K in {16, 64, 256, 1024};
- china.jpg and flower.jpg, 50,000 random pixels (RGB in [0, 1]), K in {16, 64, 256, 1024};
- Gaussian ``N(0, I_8)``, N = 20,000, K in {1024, 2048, 4096} (N/K down to 4.9);
- the paper's atomic setting (d = 8, N = 20,000, K = 1024, Gaussian and uniform data
  shifted by m in {0, 2, 4, 8}; WassersteinVQ starts from the codebook at the origin
  of ``benchmarks/paper_atomic.py``, KMeans from k-means++).

Reported per point: U and E / KMeans's E of WassersteinVQ (and, on the atomic
setting, of ``KMeans`` from WassersteinVQ's own start, which shows what that start
costs), both fits' iterations and their ratio, and fit seconds. Then the cost of each ``init`` at N = 200,000, d = 64,
K = 4096 against a default fit from ``init="auto"`` (``fit.init_cost_table``;
``--skip-grid`` runs only that, ``--skip-init`` only the grid).

Run: ``python benchmarks/promise.py`` (about 6 minutes on 2 cores) or ``--quick``
(fewer points, one seed). ``--params JSON`` fits WassersteinVQ with other parameters
(e.g. ``'{"alignment": "gaussian"}'``). Writes results/promise.csv and
results/promise-init.csv.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from _common import format_table, machine_description, write_csv  # noqa: E402
from fit import init_cost_table  # noqa: E402
from paper_atomic import draw_data, draw_init  # noqa: E402

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.datasets import sample_image_pixels  # noqa: E402
from skwvq.metrics import codebook_utilization, quantization_error  # noqa: E402

HEADER = [
    "data",
    "K",
    "U",
    "E / KMeans E",
    "KMeans same start E / KMeans E",
    "iterations",
    "KMeans iterations",
    "iteration ratio",
    "fit s",
    "KMeans fit s",
]


def grid(quick: bool):
    """(name, X, K, init) of every point."""
    digits = load_digits().data
    standardized = StandardScaler().fit_transform(digits)
    for k in (64,) if quick else (64, 256):
        yield "standardized digits", standardized, k, "auto"
    for k in (64, 1024) if quick else (16, 64, 256, 1024):
        yield "digits", digits / 16.0, k, "auto"
    for name in ("china.jpg",) if quick else ("china.jpg", "flower.jpg"):
        pixels = sample_image_pixels(name, n_samples=50_000, random_state=0)
        for k in (64,) if quick else (16, 64, 256, 1024):
            yield name, pixels, k, "auto"
    gaussian = np.random.default_rng(0).normal(size=(20_000, 8))
    for k in (4096,) if quick else (1024, 2048, 4096):
        yield "Gaussian d=8", gaussian, k, "auto"
    for family in ("gaussian", "uniform"):
        for m in (8,) if quick else (0, 2, 4, 8):
            X = draw_data(family, m, 20_000, seed=0)
            yield f"atomic {family} m={m}", X, 1024, draw_init(family, 1024, seed=0)


def fit_point(X, k, init, seeds, params):
    """Medians over seeds of both fits' E, iterations and seconds, and WVQ's U."""
    results = []
    for seed in seeds:
        start = time.perf_counter()
        km = KMeans(k, n_init=1, random_state=seed).fit(X)
        km_seconds = time.perf_counter() - start
        start = time.perf_counter()
        vq = WassersteinVQ(k, init=init, random_state=seed, **params).fit(X)
        seconds = time.perf_counter() - start
        reference = quantization_error(X, km.cluster_centers_)
        same_start = math.nan
        if not isinstance(init, str):
            # KMeans from WassersteinVQ's own start: what the start alone costs.
            km_start = KMeans(k, init=init, n_init=1).fit(X)
            same_start = quantization_error(X, km_start.cluster_centers_) / reference
        results.append(
            [
                codebook_utilization(X, vq.cluster_centers_),
                quantization_error(X, vq.cluster_centers_) / reference,
                same_start,
                vq.n_iter_,
                km.n_iter_,
                vq.n_iter_ / km.n_iter_,
                seconds,
                km_seconds,
            ]
        )
    return [float(v) for v in np.median(results, axis=0)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--params", default="{}", help="WassersteinVQ parameters, JSON")
    parser.add_argument("--skip-init", action="store_true")
    parser.add_argument("--skip-grid", action="store_true")
    args = parser.parse_args(argv)
    params = json.loads(args.params)
    seeds = (0,) if args.quick else (0, 1, 2)
    print(machine_description())
    print(f"WassersteinVQ parameters: {params or 'defaults'}; seeds {list(seeds)}")
    # Compile and load every kernel once, so that timings leave it out.
    warm = np.random.default_rng(0).normal(size=(512, 3))
    WassersteinVQ(8, random_state=0).fit(warm)
    KMeans(8, n_init=1, random_state=0).fit(warm)
    rows = []
    for name, X, k, init in [] if args.skip_grid else grid(args.quick):
        row = [name, k, *fit_point(X, k, init, seeds, params)]
        rows.append(row)
        print(format_table(HEADER, [row]).splitlines()[-1], flush=True)
    print()
    print(format_table(HEADER, rows))
    suffix = "-quick" if args.quick else ""
    if (not args.params or args.params == "{}") and not args.skip_grid:
        write_csv(f"promise{suffix}", HEADER, rows)
    if not args.skip_init:
        header, rows = init_cost_table(
            20_000 if args.quick else 200_000, 64, (256,) if args.quick else (4096,), 3
        )
        write_csv(f"promise-init{suffix}", header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
