"""Fit time and peak memory of WassersteinVQ as N, K and d double.

Each configuration runs in a fresh subprocess so that its peak resident memory
(``ru_maxrss``) is its own; the table reports the peak over the process's
baseline (interpreter, libraries and the input array) against the input size.
The goal: a fit's extra memory stays under the input array plus 200 MB (the
assignment never holds an N x K matrix).

Run: ``python benchmarks/scaling.py`` (~10 minutes on 2 cores) or ``--quick``.
Writes results/scaling.csv.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import format_table, machine_description, write_csv  # noqa: E402

CHILD = """
import json, resource, sys, time
import numpy as np
from skwvq import WassersteinVQ
n, d, k, alignment, fit = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
WassersteinVQ(4, alignment=alignment, max_iter=2).fit(np.random.default_rng(1).normal(size=(64, d)).astype(np.float32))
X = np.random.default_rng(0).standard_normal(size=(n, d), dtype=np.float32)  # no float64 temporary in the baseline
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seconds = float("nan")
if fit:
    start = time.perf_counter()
    WassersteinVQ(k, alignment=alignment, max_iter=5, tol=0, random_state=0).fit(X)
    seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "baseline_kb": baseline, "peak_kb": peak, "input_mb": X.nbytes / 2**20}))
"""


def measure(n, d, k, alignment):
    """Run one fit in a subprocess; return seconds, extra peak MB and input MB."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(d), str(k), alignment, "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    extra_mb = (result["peak_kb"] - result["baseline_kb"]) / 1024
    return result["seconds"], extra_mb, result["input_mb"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--alignment", default="sliced")
    args = parser.parse_args(argv)
    base = dict(n=25_000, d=16, k=256) if args.quick else dict(n=200_000, d=64, k=1024)
    factors = (1, 2) if args.quick else (1, 2, 4)
    print(machine_description())
    print(f"\n{args.alignment} alignment, 5 iterations, float32; base {base}")
    header = [
        "varied",
        "N",
        "d",
        "K",
        "fit s",
        "s per 2NKd GFLOP",
        "extra peak MB",
        "input MB",
        "extra / (input + 200 MB)",
    ]
    rows = []
    for varied in ("n", "k", "d"):
        for factor in factors:
            config = dict(base)
            config[varied] = base[varied] * factor
            seconds, extra, input_mb = measure(
                config["n"], config["d"], config["k"], args.alignment
            )
            gflop = 5 * 2 * config["n"] * config["k"] * config["d"] / 1e9
            rows.append(
                [
                    varied,
                    config["n"],
                    config["d"],
                    config["k"],
                    seconds,
                    seconds / gflop,
                    extra,
                    input_mb,
                    extra / (input_mb + 200),
                ]
            )
            print(format_table(header, rows[-1:]).splitlines()[-1], flush=True)
    print()
    print(format_table(header, rows))
    print(
        f"\nwrote {write_csv('scaling-quick' if args.quick else 'scaling', header, rows)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
