"""Helpers shared by the benchmark scripts: machine description, timing, tables, CSV."""

from __future__ import annotations

import argparse
import csv
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
FIGURES = Path(__file__).resolve().parent.parent / "docs" / "figures"


def machine_description() -> str:
    """CPU model, cores and BLAS as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if "model name" in line
            )
    except (OSError, StopIteration):
        pass
    blas = ", ".join(
        f"{lib['internal_api']} {lib['version']} ({lib['num_threads']} threads)"
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    )
    return f"{cpu}; {len(os.sched_getaffinity(0))} cores; BLAS: {blas}"


def median_time(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median wall time of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Plain-text table; floats shown with 4 significant digits."""

    def cell(value: object) -> str:
        return f"{value:#.4g}" if isinstance(value, float) else str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [
        max(len(r[i]) for r in [list(header), *cells]) for i in range(len(header))
    ]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def write_csv(
    name: str,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    directory: Path | None = None,
) -> Path:
    """Write rows to DIRECTORY/NAME.csv (benchmarks/results by default); return the path."""
    directory = RESULTS if directory is None else Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.csv"
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` (CSV and figures in one folder) and the hidden ``--tiny`` of the tests."""
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="directory for the CSV and the figures "
        "(default: benchmarks/results and docs/figures)",
    )
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)


def add_methods_option(parser: argparse.ArgumentParser) -> None:
    """``--methods NAME ...``: run only the arms of those names (all by default)."""
    parser.add_argument(
        "--methods", nargs="+", default=(), help="run only these arms (by name)"
    )
