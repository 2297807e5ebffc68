"""Assignment throughput against the machine's GEMM peak, KMeans.predict and faiss.

Nearest-code assignment is 2*N*K*d flops. For each (d, K) this script measures,
side by side in one run (median of ``--repeats``):

- the machine's GEMM rate for that shape: ``X_block @ C.T`` with numpy, best over
  row-block sizes (so the output can stay in cache; one huge product is
  memory-bound and understates the peak), in float32 and float64;
- skwvq's assignment (``skwvq.kernels.nearest_codes``: the fused kernel of
  ``skwvq.kernels._fused`` at ``d <= 32``, BLAS blocks above), float32 and
  float64;
- ``KMeans.predict`` and faiss ``IndexFlatL2.search(k=1)`` (when faiss is installed).

Run: ``python benchmarks/assign.py`` (N=200,000, float32 at d in {2, 3, 4, 8,
16, 32, 64, 256} and K in {16, ..., 16384}, float64 at d = 8 and 64; about 20
minutes on 2 cores, much of it faiss at d = 2) or ``--quick``. Writes
results/assign.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

sys.path.insert(0, str(Path(__file__).parent))
from _common import format_table, machine_description, median_time, write_csv  # noqa: E402

from skwvq.kernels import nearest_codes, uses_fused_kernel  # noqa: E402

try:
    import faiss
except ImportError:  # faiss is optional: its columns are left empty
    faiss = None


def gemm_rate(X, codebook, repeats):
    """Best GFLOP/s of blocked ``X_block @ C.T`` over block sizes (median per size)."""
    flops = 2.0 * X.shape[0] * codebook.shape[0] * X.shape[1]
    codebook_T = np.ascontiguousarray(codebook.T)
    best = 0.0
    for block in (256, 1024, 4096):

        def run(block=block):
            for start in range(0, X.shape[0], block):
                X[start : start + block] @ codebook_T

        seconds = min(median_time(run, 1)[0] for _ in range(repeats))
        best = max(best, flops / seconds / 1e9)
    return best


def kmeans_predictor(codebook):
    model = KMeans(len(codebook), init=codebook, n_init=1, max_iter=1).fit(codebook)
    model.cluster_centers_ = codebook
    return model


def rates(X, codebook, repeats):
    """GFLOP/s of every method on one problem."""
    flops = 2.0 * X.shape[0] * codebook.shape[0] * X.shape[1]
    nearest_codes(X[:256], codebook)  # compile outside the timing
    seconds, (labels, _) = median_time(lambda: nearest_codes(X, codebook), repeats)
    out = {"skwvq": flops / seconds / 1e9}
    model = kmeans_predictor(codebook)
    seconds, km_labels = median_time(lambda: model.predict(X), repeats)
    out["KMeans.predict"] = flops / seconds / 1e9
    out["agree"] = float(np.mean(km_labels == labels))
    if faiss is not None and X.dtype == np.float32:
        index = faiss.IndexFlatL2(X.shape[1])
        index.add(codebook)
        seconds, _ = median_time(lambda: index.search(X, 1), repeats)
        out["faiss"] = flops / seconds / 1e9
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dims", type=int, nargs="+", help="float32 widths")
    parser.add_argument("--codebook-sizes", type=int, nargs="+")
    parser.add_argument("--float64-dims", type=int, nargs="*")
    parser.add_argument("--out", default=None, help="CSV name (default: assign)")
    args = parser.parse_args(argv)
    n_samples = 20_000 if args.quick else 200_000
    dims = (3, 8, 64) if args.quick else (2, 3, 4, 8, 16, 32, 64, 256)
    sizes = (256, 1024) if args.quick else (16, 64, 256, 1024, 4096, 16384)
    float64_dims = (8,) if args.quick else (8, 64)
    dims = args.dims or dims
    sizes = args.codebook_sizes or sizes
    float64_dims = float64_dims if args.float64_dims is None else args.float64_dims
    print(machine_description())
    print(f"N={n_samples}; GFLOP/s = 2NKd / seconds, median of {args.repeats}\n")
    header = [
        "dtype",
        "d",
        "K",
        "kernel",
        "GEMM",
        "skwvq",
        "skwvq/GEMM",
        "KMeans.predict",
        "skwvq/KMeans",
        "faiss",
        "skwvq/faiss",
        "labels agree",
    ]
    rows = []
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        # float64 at one width per kernel (fused, BLAS): the kernels are the
        # same code, and the full grid would double a run that is already long.
        for d in dims if dtype == np.float32 else float64_dims:
            X = rng.normal(size=(n_samples, d)).astype(dtype)
            for k in sizes:
                codebook = rng.normal(size=(k, d)).astype(dtype)
                peak = gemm_rate(X, codebook, args.repeats)
                r = rates(X, codebook, args.repeats)
                faiss_rate = r.get("faiss", float("nan"))
                row = [
                    np.dtype(dtype).name,
                    d,
                    k,
                    "fused" if uses_fused_kernel(d) else "BLAS",
                    peak,
                    r["skwvq"],
                    r["skwvq"] / peak,
                    r["KMeans.predict"],
                    r["skwvq"] / r["KMeans.predict"],
                    faiss_rate,
                    r["skwvq"] / faiss_rate,
                    r["agree"],
                ]
                rows.append(row)
                print(format_table(header, [row]).splitlines()[-1], flush=True)
    print()
    print(format_table(header, rows))
    print(
        f"\nwrote {write_csv(args.out or ('assign-quick' if args.quick else 'assign'), header, rows)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
