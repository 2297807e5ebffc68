"""Mini-batch streaming against the full-batch fit, and a fit from a memmap larger than RAM.

1. The mismatched-init case (d=8, data N(8*1, I), codebook N(0, I), K=1024) with
   10^6 samples: full-batch fit against ``batch_size=10_000`` (stopped by the
   default rule, and run for 20 epochs); the goal is E within
   5% and U, C within 2% of the full-batch fit.
2. The forgetting rate of the running statistics: the same problem fitted with
   ``batch_size`` (a fixed number of epochs) and streamed through
   ``partial_fit`` (the same batches, the same number of passes), for
   ``stats_horizon`` from 25 to 400 rows per code, one epoch and never
   forgetting; E and C against the full-batch fit. The evidence for the
   default ``stats_horizon``.
3. When a mini-batch fit stops: the smoothed-error rule (``max_no_improvement``)
   against running every epoch and against ``MiniBatchKMeans``, on blobs (200,000
   rows, d=8, K=64, ``batch_size=4096``) and from the far start (60,000 rows,
   K=128, ``batch_size=2000``, at most 40 epochs); E and C against the full-batch
   fit. The evidence for the default ``max_no_improvement``.
4. A float32 ``np.memmap`` file of 4 GB fitted with ``batch_size`` inside a Linux
   memory cgroup (v1 or v2) limited to 1 GB: the fit completes and its memory
   stays under the limit. Needs root and a writable cgroup hierarchy; skipped
   (and said so) otherwise.

Run: ``python benchmarks/streaming.py`` (~15 minutes on 2 cores, 4 GB of disk) or
``--quick`` (10^5 samples, a 768 MB file under a 384 MB limit).
Writes results/streaming*.csv.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import (  # noqa: E402
    format_table,
    machine_description,
    median_time,
    write_csv,
)
from sklearn.cluster import MiniBatchKMeans  # noqa: E402
from sklearn.datasets import make_blobs  # noqa: E402

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.datasets import mismatched_gaussian  # noqa: E402
from skwvq.metrics import (  # noqa: E402
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
)

MEMMAP_CHILD = """
import resource, sys, time
import numpy as np
from skwvq import WassersteinVQ
X = np.load(sys.argv[1], mmap_mode="r")
start = time.perf_counter()
vq = WassersteinVQ(256, batch_size=int(sys.argv[2]), max_iter=2, random_state=0).fit(X)
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, vq.n_iter_)
"""


def streaming_table(n_samples, k, batch_size):
    X, init = mismatched_gaussian(n_samples=n_samples, n_clusters=k, random_state=0)
    X, init = X.astype(np.float32), init.astype(np.float32)
    header = [
        "fit",
        "seconds",
        "iterations",
        "E",
        "U",
        "C",
        "E ratio",
        "U diff",
        "C ratio",
    ]
    rows = []
    fits = (
        ("full batch", dict(max_iter=100)),
        (f"batch_size={batch_size}", dict(batch_size=batch_size, max_iter=20)),
        (
            f"batch_size={batch_size}, max_no_improvement=None",
            dict(batch_size=batch_size, max_iter=20, max_no_improvement=None),
        ),
    )
    for name, params in fits:
        start = time.perf_counter()
        vq = WassersteinVQ(k, init=init, random_state=0, **params).fit(X)
        seconds = time.perf_counter() - start
        E, U, C = (
            quantization_error(X, vq.codebook_),
            codebook_utilization(X, vq.codebook_),
            codebook_perplexity(X, vq.codebook_),
        )
        rows.append([name, seconds, vq.n_iter_, E, U, C])
    E0, U0, C0 = rows[0][3:6]
    for row in rows:
        row += [row[3] / E0, row[4] - U0, row[5] / C0]
    print(f"\nmismatched init, N={n_samples}, d=8, K={k}, float32")
    print(format_table(header, rows), flush=True)
    return header, rows


def horizon_table(n_samples, k, batch_size, epochs, seeds=(0, 1, 2)):
    """E and C of mini-batch fits and streams, per ``stats_horizon``, over seeds."""
    header = ["fit", "stats_horizon", "rows per code", "E ratio", "C ratio"]
    horizons = [(f"{m} K", m * k) for m in (25, 50, 100, 200, 400)]
    horizons += [("one epoch", n_samples), ("inf", np.inf)]
    ratios = {}
    for seed in seeds:
        X, init = mismatched_gaussian(
            n_samples=n_samples, n_clusters=k, random_state=seed
        )
        X, init = X.astype(np.float32), init.astype(np.float32)
        full = WassersteinVQ(k, init=init, random_state=seed).fit(X)
        E0 = quantization_error(X, full.codebook_)
        C0 = codebook_perplexity(X, full.codebook_)
        batches = np.array_split(
            X[np.random.default_rng(seed).permutation(n_samples)],
            n_samples // batch_size,
        )
        for label, horizon in horizons:
            params = dict(init=init, random_state=seed, stats_horizon=horizon)
            mini = WassersteinVQ(
                k,
                batch_size=batch_size,
                max_iter=epochs,
                max_no_improvement=None,
                **params,
            ).fit(X)
            stream = WassersteinVQ(k, **params)
            for _ in range(epochs):
                for batch in batches:
                    stream.partial_fit(batch)
            for name, vq in (("fit(batch_size)", mini), ("partial_fit", stream)):
                E = quantization_error(X, vq.codebook_) / E0
                C = codebook_perplexity(X, vq.codebook_) / C0
                ratios.setdefault((name, label, horizon), []).append((E, C))
    rows = [
        [name, label, horizon / k, *np.median(values, axis=0)]
        for (name, label, horizon), values in ratios.items()
    ]
    rows.sort(key=lambda row: row[0])
    print(
        f"\nstats_horizon, N={n_samples}, d=8, K={k}, batch_size={batch_size}, "
        f"{epochs} epochs, median over seeds {list(seeds)}"
    )
    print(format_table(header, rows), flush=True)
    return header, rows


def stopping_table(repeats):
    """Epochs, steps, median seconds, E and C of mini-batch fits, per stopping rule."""
    header = [
        "data",
        "fit",
        "epochs",
        "steps",
        "seconds",
        "E",
        "C",
        "E ratio",
        "C ratio",
    ]
    blobs, _ = make_blobs(200_000, 8, centers=64, random_state=0)
    far, far_init = mismatched_gaussian(
        n_samples=60_000, n_clusters=128, random_state=0
    )
    cases = {
        "blobs K=64": (
            blobs.astype(np.float32),
            dict(n_clusters=64, batch_size=4096, random_state=0),
            {
                "MiniBatchKMeans": MiniBatchKMeans(
                    64, batch_size=4096, n_init=1, random_state=0
                ),
                "max_no_improvement=10": {},
                "max_no_improvement=None": {"max_no_improvement": None},
            },
        ),
        "far start K=128": (
            far.astype(np.float32),
            dict(
                n_clusters=128,
                init=far_init,
                batch_size=2000,
                max_iter=40,
                random_state=0,
            ),
            {
                "max_no_improvement=10": {},
                "max_no_improvement=30": {"max_no_improvement": 30},
                "max_no_improvement=None": {"max_no_improvement": None},
            },
        ),
    }
    rows = []
    for data, (X, params, fits) in cases.items():
        full = dict(params, batch_size=None, max_iter=100)
        case_rows = []
        for name, fit in [("full batch", full), *fits.items()]:
            if not isinstance(fit, MiniBatchKMeans):
                fit = WassersteinVQ(**{**params, **fit})
            seconds, vq = median_time(lambda fit=fit, X=X: fit.fit(X), repeats)
            E = quantization_error(X, vq.cluster_centers_)
            C = codebook_perplexity(X, vq.cluster_centers_)
            steps = getattr(vq, "n_steps_", vq.n_iter_)
            case_rows.append([data, name, vq.n_iter_, steps, seconds, E, C])
        E0, C0 = case_rows[0][5:7]
        rows += [[*row, row[5] / E0, row[6] / C0] for row in case_rows]
    print(f"\nwhen mini-batch fits stop, median seconds of {repeats}")
    print(format_table(header, rows), flush=True)
    return header, rows


def write_big_file(path, n_bytes, n_features=64):
    rows = n_bytes // (4 * n_features)
    out = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(rows, n_features)
    )
    rng = np.random.default_rng(0)
    step = 1 << 18
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        out[start:stop] = rng.normal(size=(stop - start, n_features))
    out.flush()
    del out
    # Evict the file from the page cache, so that the fit's own reads are
    # charged to its cgroup rather than found already cached by this process.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    return rows


def cgroup_command(limit_bytes, command):
    """Wrap ``command`` so it runs inside a fresh memory cgroup; None if impossible."""
    for root, limit_file, procs in (
        ("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "cgroup.procs"),
        ("/sys/fs/cgroup", "memory.max", "cgroup.procs"),
    ):
        if not os.path.isdir(root) or not os.access(root, os.W_OK):
            continue
        group = os.path.join(root, f"skwvq-bench-{os.getpid()}")
        try:
            os.makedirs(group, exist_ok=True)
            with open(os.path.join(group, limit_file), "w") as f:
                f.write(str(limit_bytes))
        except OSError:
            continue
        script = f'echo $$ > {group}/{procs} && exec "$@"'
        return group, ["sh", "-c", script, "sh", *command]
    return None, None


def memmap_table(file_bytes, limit_bytes, batch_size):
    header = [
        "file GB",
        "limit GB",
        "rows",
        "seconds",
        "epochs",
        "peak RSS MB",
        "cgroup peak MB",
        "completed",
    ]
    with tempfile.TemporaryDirectory(dir=os.environ.get("SKWVQ_BENCH_TMP")) as tmp:
        path = os.path.join(tmp, "big.npy")
        rows = write_big_file(path, file_bytes)
        command = [sys.executable, "-c", MEMMAP_CHILD, path, str(batch_size)]
        group, wrapped = cgroup_command(limit_bytes, command)
        if group is None:
            print("\nmemmap test skipped: no writable memory cgroup on this machine")
            return header, []
        # POT imports torch when it is installed; the fit does not need it.
        env = dict(os.environ, POT_BACKEND_DISABLE_PYTORCH="1")
        try:
            done = subprocess.run(wrapped, capture_output=True, text=True, env=env)
            peak_file = "memory.max_usage_in_bytes"
            if not os.path.exists(os.path.join(group, peak_file)):
                peak_file = "memory.peak"
            try:
                with open(os.path.join(group, peak_file)) as f:
                    cgroup_peak = int(f.read()) / 2**20
            except OSError:
                cgroup_peak = float("nan")
        finally:
            os.rmdir(group)
        completed = done.returncode == 0
        seconds, rss, epochs = done.stdout.split() if completed else ("nan", "nan", "0")
        if not completed:
            print(f"exit status {done.returncode}", done.stderr[-2000:])
        row = [
            file_bytes / 2**30,
            limit_bytes / 2**30,
            rows,
            float(seconds),
            int(epochs),
            float(rss),
            cgroup_peak,
            completed,
        ]
    print("\nfit from a memmap inside a memory cgroup (float32, d=64, K=256)")
    print(format_table(header, [row]), flush=True)
    return header, [row]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(machine_description())
    suffix = "-quick" if args.quick else ""
    if args.quick:
        header, rows = streaming_table(100_000, 256, 5_000)
    else:
        header, rows = streaming_table(1_000_000, 1024, 10_000)
    write_csv(f"streaming{suffix}", header, rows)
    if args.quick:
        header, rows = horizon_table(50_000, 128, 2_500, epochs=4, seeds=(0,))
    else:
        header, rows = horizon_table(100_000, 256, 2_500, epochs=5)
    write_csv(f"streaming-horizon{suffix}", header, rows)
    header, rows = stopping_table(repeats=1 if args.quick else 3)
    write_csv(f"streaming-stopping{suffix}", header, rows)
    if args.quick:
        header, rows = memmap_table(768 << 20, 384 << 20, 20_000)
    else:
        header, rows = memmap_table(4 << 30, 1 << 30, 100_000)
    if rows:
        write_csv(f"streaming-memmap{suffix}", header, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
