"""The torch backend on a GPU: assignment against the card's own matmul, fits against numpy.

Nearest-code assignment is 2*N*K*d flops. In one run, side by side, this script
measures (median of ``--repeats``, with the device synchronised around each call):

- the card's float32 ``torch.matmul`` peak (an 8192^3 product), and for every
  assignment shape the rate of ``torch.matmul`` on the same chunks of rows that
  the assignment multiplies (``X_chunk @ C.T``, output written to memory);
- skwvq's assignment (``TorchBackend.assign``: labels, distances, per-code
  counts and sums), d in {64, 128}, K from 1,024 to 65,536, N = 10^6 rows on
  the device; and, at K = 16,384, the rows per chunk (the distance block's size);
- whole fits, ``WassersteinVQ(backend="torch")`` on the device against
  ``backend="numpy"`` on this machine's CPU cores, at N = 10^6 and 10^7, d = 64,
  K up to 65,536 (a few iterations each: the time per iteration is what is
  compared; the CPU runs only at N = 10^6, where an iteration takes seconds);
- one fit with the default parameters (up to 100 iterations, ``tol=1e-4``) at
  N = 10^7, K = 16,384, on clustered data.

float32 throughout, with torch's default full-precision float32 matmul (TF32
off). Run on a machine with a CUDA device: ``python benchmarks/gpu.py`` (about
5 minutes on an H100). Writes results/gpu_assign.csv and results/gpu_fit.csv.
``--device cpu`` runs the same tables on torch's CPU build.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import torch  # noqa: E402, I001
from _common import (  # noqa: E402
    add_output_options,
    format_table,
    machine_description,
    write_csv,
)

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.backends import TorchBackend  # noqa: E402
from skwvq.kernels import _torch as device_kernels  # noqa: E402
from skwvq.kernels import slices  # noqa: E402


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(run, device, repeats, warmup=1):
    """Median wall time of ``run()`` with the device drained before and after."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        run()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def card_description(device) -> str:
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return (
            f"{props.name}, {props.total_memory / 2**30:.0f} GiB, "
            f"{props.multi_processor_count} SMs; torch {torch.__version__}, "
            f"CUDA {torch.version.cuda}; TF32 matmul "
            f"{'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}"
        )
    return f"torch {torch.__version__} on the CPU: {machine_description()}"


def matmul_peak(device, size, repeats):
    """GFLOP/s of one float32 ``size^3`` matrix product: the card's own peak."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    seconds = median_seconds(lambda: a @ b, device, repeats)
    return 2.0 * size**3 / seconds / 1e9


def assignment_rows(X, codebook, blocked, fused, repeats, n_check=20_000):
    """Rates of the same-shape matmul and of each assignment kernel, and their labels' agreement.

    ``blocked`` and ``fused`` are torch backends without and with the fused Triton
    kernel (``fused`` is None where Triton or CUDA is missing). Agreement is the
    fraction of the first ``n_check`` rows whose label equals the float64 argmin.
    """
    flops = 2.0 * X.shape[0] * codebook.shape[0] * X.shape[1]
    chunk = blocked.chunk_rows(codebook.shape[0], codebook.element_size())
    codebook_T = codebook.T.contiguous()

    def matmul():
        for rows in slices(X.shape[0], chunk):
            X[rows] @ codebook_T

    x_sq_norms = blocked.sq_norms(X)
    check = X[:n_check].double()
    reference = (
        torch.einsum("ij,ij->i", codebook.double(), codebook.double())
        - 2 * check @ codebook.double().T
    ).argmin(dim=1)
    rates, agreements = (
        [flops / median_seconds(matmul, blocked.device, repeats) / 1e9],
        [],
    )
    kernels = [(blocked, None)]
    if fused is not None:
        default_precision = fused.fused.INPUT_PRECISION
        kernels += [(fused, "tf32x3"), (fused, "ieee")]
    for nx, precision in kernels:
        if precision is not None:
            nx.fused.INPUT_PRECISION = precision

        def assign(nx=nx):
            return nx.assign(X, codebook, x_sq_norms=x_sq_norms)

        rates.append(flops / median_seconds(assign, nx.device, repeats) / 1e9)
        labels = assign().labels[:n_check]
        agreements.append(float((labels == reference).double().mean()))
    if fused is not None:
        fused.fused.INPUT_PRECISION = default_precision
    while len(rates) < 4:  # no fused kernel here: empty cells
        rates.append("")
        agreements.append("")
    return chunk, rates, agreements


def blobs(n_samples, n_features, n_centers, device, seed=0):
    """Clustered float32 data generated on the device (no host copy of N x d)."""
    generator = torch.Generator(device=device).manual_seed(seed)
    centers = 4 * torch.randn(n_centers, n_features, device=device, generator=generator)
    which = torch.randint(n_centers, (n_samples,), device=device, generator=generator)
    noise = torch.randn(n_samples, n_features, device=device, generator=generator)
    return centers[which] + noise


def fit_seconds(X, n_codes, backend, device, max_iter):
    """Wall time of one fit and the fitted estimator (setup included)."""
    vq = WassersteinVQ(
        n_clusters=n_codes,
        backend=backend,
        device=device if backend == "torch" else None,
        max_iter=max_iter,
        tol=0,
        random_state=0,
    )
    synchronize(torch.device(device))
    start = time.perf_counter()
    vq.fit(X)
    synchronize(torch.device(device))
    return time.perf_counter() - start, vq


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--fit-iters", type=int, default=5, help="iterations of each timed fit"
    )
    parser.add_argument("--quick", action="store_true", help="smaller grid")
    parser.add_argument(
        "--sections",
        default="assign,chunks,fits,default",
        help="comma-separated parts to run: assign, chunks, fits, default",
    )
    parser.add_argument("--codes", help="comma-separated K of the assignment grid")
    parser.add_argument("--features", help="comma-separated d of the assignment grid")
    add_output_options(parser)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    nx = TorchBackend(device)
    on_gpu = device.type == "cuda"

    if args.tiny:
        n_rows, features, codes, peak_size = 4096, (16,), (64, 256), 256
        fit_sizes, fit_codes, cpu_rows, default_fit = (8192,), (64,), 8192, (4096, 32)
        cpu_codes = 64
        block_sweep = (1 << 20, 1 << 22)
    elif args.quick or not on_gpu:
        n_rows, features, codes, peak_size = 100_000, (64,), (1024, 4096), 2048
        fit_sizes, fit_codes, cpu_rows = (100_000,), (1024,), 100_000
        default_fit, block_sweep = (200_000, 1024), (1 << 23, 1 << 25)
        cpu_codes = 1024
    else:
        n_rows, features, peak_size = 1_000_000, (64, 128), 8192
        codes = (1024, 4096, 16384, 65536)
        fit_sizes, fit_codes, cpu_rows = (
            (1_000_000, 10_000_000),
            (4096, 16384, 65536),
            1_000_000,
        )
        default_fit, cpu_codes = (10_000_000, 16384), 16384
        block_sweep = (1 << 25, 1 << 26, 1 << 27, 1 << 28, 1 << 29, 1 << 30)

    if args.codes:
        codes = tuple(int(k) for k in args.codes.split(","))
    if args.features:
        features = tuple(int(d) for d in args.features.split(","))
    sections = set(args.sections.split(","))

    print(f"device: {card_description(device)}")
    print(f"host: {machine_description()}")
    peak = matmul_peak(device, peak_size, args.repeats)
    print(f"float32 torch.matmul peak ({peak_size}^3): {peak:,.0f} GFLOP/s\n")

    # -- assignment throughput ------------------------------------------------
    blocked = TorchBackend(device, fused=False)
    fused = nx if nx.fused is not None else None
    header = ["d", "K", "rows/chunk", "matmul GFLOP/s", "blocked GFLOP/s",
              "fused GFLOP/s", "fused-ieee GFLOP/s", "blocked/matmul",
              "fused/matmul", "fused/peak", "agree blocked", "agree fused",
              "agree fused-ieee"]  # fmt: skip
    rows = []
    generator = torch.Generator(device=device).manual_seed(0)
    for n_features in features if "assign" in sections else ():
        X = torch.randn(n_rows, n_features, device=device, generator=generator)
        for n_codes in codes:
            codebook = X[:n_codes].clone()
            chunk, rates, agreements = assignment_rows(
                X, codebook, blocked, fused, args.repeats
            )
            matmul_rate, blocked_rate, fused_rate, _ = rates
            fused_ratios = ["", ""] if fused is None else [fused_rate / matmul_rate,
                                                           fused_rate / peak]  # fmt: skip
            rows.append([n_features, n_codes, chunk, *rates, blocked_rate / matmul_rate,
                         *fused_ratios, *agreements])  # fmt: skip
            print(format_table(header, rows[-1:]).splitlines()[-1], flush=True)
        del X
    if rows:
        print(f"\nassignment, N={n_rows:,} rows on the device, float32; agreement: "
              "fraction of 20,000 rows labelled as by a float64 argmin")  # fmt: skip
        print(format_table(header, rows))
    sweep_rows = []
    if "chunks" in sections:
        n_codes = codes[-1] if args.tiny else min(16384, codes[-1])
        X = torch.randn(n_rows, features[0], device=device, generator=generator)
        codebook = X[:n_codes].clone()
        budget = device_kernels._DEVICE_BLOCK_BYTES[device.type]
        for block_bytes in block_sweep:
            device_kernels._DEVICE_BLOCK_BYTES[device.type] = block_bytes
            chunk, rates, agreements = assignment_rows(
                X, codebook, blocked, None, args.repeats
            )
            sweep_rows.append([features[0], n_codes, chunk, *rates,
                               rates[1] / rates[0], "", "", *agreements])  # fmt: skip
        device_kernels._DEVICE_BLOCK_BYTES[device.type] = budget
        del X, codebook
        print(f"\nrows per chunk of the blocked kernel at d={features[0]}, K={n_codes} "
              f"(default: {budget / 2**20:.0f} MiB of distances per chunk)")  # fmt: skip
        print(format_table(header, sweep_rows))
    if rows or sweep_rows:
        write_csv("gpu_assign", ["section", *header],
                  [["grid", *r] for r in rows] + [["chunks", *r] for r in sweep_rows],
                  args.out)  # fmt: skip

    # -- fits -------------------------------------------------------------------
    # One fit of 1 iteration and one of M: their difference over M - 1 is the time
    # of an iteration, the rest is the per-fit setup (init, OT sample, data side).
    fit_header = ["N", "K", "torch setup s", "torch s/iteration", "numpy setup s",
                  "numpy s/iteration", "speed-up/iteration", "E"]  # fmt: skip
    fit_rows = []
    if "fits" in sections:
        warm_up = blobs(4096, 64, 16, device)
        fit_seconds(warm_up, 64, "torch", args.device, 2)
        fit_seconds(warm_up.cpu().numpy(), 64, "numpy", "cpu", 2)
        iters = max(2, args.fit_iters)
        for n_samples in fit_sizes:
            X = blobs(n_samples, 64, 1024, device)
            X_host = X.cpu().numpy() if n_samples <= cpu_rows else None
            for n_codes in fit_codes:
                one, _ = fit_seconds(X, n_codes, "torch", args.device, 1)
                many, vq = fit_seconds(X, n_codes, "torch", args.device, iters)
                per_iteration = (many - one) / (iters - 1)
                cpu_setup = cpu_per_iteration = speedup = ""
                if X_host is not None and n_codes <= cpu_codes:
                    cpu_one, _ = fit_seconds(X_host, n_codes, "numpy", "cpu", 1)
                    cpu_two, _ = fit_seconds(X_host, n_codes, "numpy", "cpu", 2)
                    cpu_per_iteration = cpu_two - cpu_one
                    cpu_setup = cpu_one - cpu_per_iteration
                    speedup = cpu_per_iteration / per_iteration
                fit_rows.append([n_samples, n_codes, one - per_iteration, per_iteration,
                                 cpu_setup, cpu_per_iteration, speedup,
                                 float(vq.history_["E"][-1])])  # fmt: skip
                print(
                    format_table(fit_header, fit_rows[-1:]).splitlines()[-1], flush=True
                )
            del X, X_host
        print(f"\nfits, d=64, float32 blobs (1,024 centres): torch on {device}, numpy "
              f"on the host's CPU cores (N <= {cpu_rows:,}, K <= {cpu_codes:,})")  # fmt: skip
        print(format_table(fit_header, fit_rows))
        write_csv("gpu_fit", fit_header, fit_rows, args.out)

    if "default" in sections:
        n_samples, n_codes = default_fit
        X = blobs(n_samples, 64, 1024, device)
        vq = WassersteinVQ(n_clusters=n_codes, device=args.device, random_state=0)
        synchronize(device)
        start = time.perf_counter()
        vq.fit(X)
        synchronize(device)
        seconds = time.perf_counter() - start
        print(f"\ndefault parameters at N={n_samples:,}, d=64, K={n_codes:,} on {device}: "
              f"{seconds:.1f} s, {vq.n_iter_} iterations, E={vq.history_['E'][-1]:.4g}, "
              f"U={vq.history_['U'][-1]:.4f}")  # fmt: skip
        write_csv("gpu_default_fit", ["N", "K", "seconds", "iterations", "E", "U"],
                  [[n_samples, n_codes, seconds, vq.n_iter_, float(vq.history_["E"][-1]),
                    float(vq.history_["U"][-1])]], args.out)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
