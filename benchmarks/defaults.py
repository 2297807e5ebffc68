"""Which alignment, target and weight schedule to use by default: E and U against KMeans++.

Run: ``python benchmarks/defaults.py`` (about 20 minutes on 2 cores) or with
``--quick``. Prints one table per data set and writes results/defaults.csv.
Each WassersteinVQ configuration starts from the default ``init="auto"`` (the far
init array on the mismatched case); the reference is KMeans with k-means++
(n_init=1), averaged over the same 3 seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits

sys.path.insert(0, str(Path(__file__).parent))
from _common import format_table, machine_description, write_csv  # noqa: E402

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.datasets import mismatched_gaussian, sample_image_pixels  # noqa: E402
from skwvq.metrics import codebook_utilization, quantization_error  # noqa: E402

SCHEDULES = {
    "g=0.1 constant": dict(alignment_weight=0.1, alignment_decay=1.0),
    "g=0.5 constant": dict(alignment_weight=0.5, alignment_decay=1.0),
    "g=0.5*0.9^t": dict(alignment_weight=0.5, alignment_decay=0.9),
    "g=0.1*0.95^t": dict(alignment_weight=0.1, alignment_decay=0.95),
    "g=0.05*0.8^t": dict(alignment_weight=0.05, alignment_decay=0.8),
}


def datasets(quick: bool):
    n = 10000 if quick else 30000
    X_far, init_far = mismatched_gaussian(n_samples=n, n_clusters=256, random_state=0)
    yield "mismatched Gaussian d=8 K=256 (far init)", X_far, 256, init_far
    X_matched, _ = mismatched_gaussian(n_samples=n, shift=0.0, random_state=1)
    yield "matched Gaussian d=8 K=256", X_matched, 256, "auto"
    images = ["china.jpg"] if quick else ["china.jpg", "flower.jpg"]
    for name in images:
        X = sample_image_pixels(name, n_samples=n, random_state=0)
        for k in (64,) if quick else (64, 256):
            yield f"{name} pixels d=3 K={k}", X, k, "auto"
    digits = load_digits().data / 16.0
    yield "digits d=64 K=64", digits, 64, "auto"


def configurations(quick: bool):
    alignments = ("sliced", "exact") if quick else ("gaussian", "sliced", "exact")
    for alignment in alignments:
        for target in ("data", "quantization-optimal"):
            for schedule, params in SCHEDULES.items():
                yield alignment, target, schedule, params


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer data sets and seeds"
    )
    args = parser.parse_args(argv)
    seeds = (0,) if args.quick else (0, 1, 2)
    print(machine_description())
    header = ["data", "alignment", "target", "schedule", "E/E(KMeans++)", "U"]
    rows = []
    for name, X, k, init in datasets(args.quick):
        reference = np.mean(
            [
                KMeans(k, n_init=1, random_state=s).fit(X).inertia_ / len(X)
                for s in seeds
            ]
        )
        table = []
        for alignment, target, schedule, params in configurations(args.quick):
            ratios, utilizations = [], []
            for seed in seeds:
                vq = WassersteinVQ(
                    k,
                    alignment=alignment,
                    target=target,
                    init=init,
                    random_state=seed,
                    **params,
                ).fit(X)
                ratios.append(quantization_error(X, vq.codebook_) / reference)
                utilizations.append(codebook_utilization(X, vq.codebook_))
            row = [
                name,
                alignment,
                target,
                schedule,
                float(np.mean(ratios)),
                float(np.mean(utilizations)),
            ]
            table.append(row)
            rows.append(row)
        print(f"\n{name}: E(KMeans++) = {reference:.6g}")
        print(format_table(header[1:], [r[1:] for r in table]), flush=True)
    path = write_csv("defaults-quick" if args.quick else "defaults", header, rows)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
