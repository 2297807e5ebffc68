"""Command line: ``skwvq compare``'s arguments, data sets and output (the comparison itself is ``skwvq._compare``)."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._compare import Dataset, Row, compare, torch_available, warm_up
from .alignment import ALIGNMENTS
from .datasets import load_array, mismatched_gaussian, sample_image_pixels

__all__ = ["Dataset", "Row", "compare", "main"]

DEFAULT_K_GAUSSIAN = 256
DEFAULT_K_IMAGE = 64
CSV_FIELDS = ("dataset", "method", "E", "U", "C", "W", "fit_seconds")


class UsageError(ValueError):
    """Bad user input (unreadable data file, impossible codebook size)."""


# --------------------------------------------------------------------- data --
def _random_rows_init(X: np.ndarray, n_clusters: int, seed: int) -> np.ndarray:
    """``n_clusters`` distinct rows of X drawn with ``seed``: the shared random init."""
    distinct = np.unique(X, axis=0)
    if distinct.shape[0] < n_clusters:
        raise UsageError(
            f"the data have {distinct.shape[0]} distinct rows, fewer than "
            f"K={n_clusters} codes (--n-clusters)."
        )
    rng = np.random.default_rng(seed)
    return distinct[rng.choice(distinct.shape[0], size=n_clusters, replace=False)]


def _shape_text(X: np.ndarray, n_clusters: int) -> str:
    return f"N={X.shape[0]}, d={X.shape[1]}, K={n_clusters}"


def _gaussian_dataset(args: argparse.Namespace) -> Dataset:
    n_clusters = args.n_clusters or DEFAULT_K_GAUSSIAN
    if n_clusters > args.n_samples:
        raise UsageError(
            f"--n-clusters {n_clusters} exceeds --n-samples {args.n_samples}."
        )
    X, init = mismatched_gaussian(
        n_samples=args.n_samples, n_clusters=n_clusters, random_state=args.seed
    )
    title = (
        f"mismatched-init Gaussian: {_shape_text(X, n_clusters)}, "
        "data ~ N(8*1, I), init: codebook ~ N(0, I)"
    )
    return Dataset("mismatched-gaussian", title, X, init)


def _image_dataset(args: argparse.Namespace) -> Dataset:
    n_clusters = args.n_clusters or DEFAULT_K_IMAGE
    X = sample_image_pixels(
        "china.jpg", n_samples=args.n_samples, random_state=args.seed
    )
    init = _random_rows_init(X, n_clusters, args.seed)
    title = (
        f"china.jpg pixels (RGB in [0, 1]): {_shape_text(X, n_clusters)}, "
        f"init: {n_clusters} random distinct pixels (seed {args.seed})"
    )
    return Dataset("china.jpg", title, X, init)


def _file_dataset(args: argparse.Namespace) -> Dataset:
    X = load_array(args.data)
    n_clusters = args.n_clusters or min(DEFAULT_K_IMAGE, X.shape[0])
    init = _random_rows_init(X, n_clusters, args.seed).astype(X.dtype, copy=False)
    title = (
        f"{args.data.name}: {_shape_text(X, n_clusters)}, "
        f"init: {n_clusters} random distinct rows (seed {args.seed})"
    )
    return Dataset(args.data.name, title, X, init)


def _datasets(args: argparse.Namespace) -> list[Dataset]:
    if args.data is not None:
        return [_file_dataset(args)]
    return [_gaussian_dataset(args), _image_dataset(args)]


# ------------------------------------------------------------------- output --
def _format_table(title: str, rows: Sequence[Row]) -> str:
    """Plain-text table, numbers right-aligned; E/KMeans is relative to KMeans's E."""
    reference = next((row.E for row in rows if row.method == "KMeans"), math.nan)
    header = ("method", "E", "E/KMeans", "U", "C", "W", "fit s")
    cells = [
        (
            row.method,
            f"{row.E:#.4g}",
            f"{row.E / reference:.3f}",
            f"{row.U:.3f}",
            f"{row.C:.1f}",
            f"{row.W:#.4g}",
            f"{row.fit_seconds:.2f}",
        )
        for row in rows
    ]
    widths = [
        max(len(line[i]) for line in (header, *cells)) for i in range(len(header))
    ]

    def line(values: Sequence[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = (value.rjust(width) for value, width in zip(values[1:], widths[1:]))
        return " | ".join((first, *rest))

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([title, line(header), rule, *(line(cell) for cell in cells)])


def _write_csv(path: Path, rows: Sequence[Row]) -> None:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_FIELDS)
        writer.writerows(rows)


def _write_plot(path: Path, rows: Sequence[Row]) -> None:
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    from .plotting import plot_comparison

    axes = plot_comparison(rows)
    figure = axes.flat[0].figure
    figure.savefig(path, dpi=120)
    plt.close(figure)


# ---------------------------------------------------------------------- CLI --
def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skwvq",
        description="Vector quantization by distributional matching.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    compare_parser = subparsers.add_parser(
        "compare",
        help="fit KMeans, MiniBatchKMeans and WassersteinVQ side by side",
        description=(
            "Fit KMeans, MiniBatchKMeans and WassersteinVQ from the same initial "
            "codebook with the same iteration budget, and print quantization error "
            "E, utilization U, perplexity C, Gaussian 2-Wasserstein distance W and "
            "fit time. Without --data: the mismatched-init Gaussian case (d=8, "
            "codebook initialised 8 standard deviations from the data) and the "
            "pixels of scikit-learn's china.jpg. With torch installed, also "
            "train a straight-through VQ layer, an EMA VQ layer and skwvq's "
            "WassersteinQuantizer for as many epochs."
        ),
    )
    compare_parser.add_argument(
        "--data",
        type=Path,
        metavar="FILE",
        help="a .npy or .csv file of samples x features; only it is compared",
    )
    compare_parser.add_argument(
        "--n-clusters",
        type=_positive_int,
        metavar="K",
        help=(
            f"codebook size (default: {DEFAULT_K_GAUSSIAN} for the Gaussian case, "
            f"{DEFAULT_K_IMAGE} for the image and --data)"
        ),
    )
    compare_parser.add_argument(
        "--alignment",
        choices=(*ALIGNMENTS, "all"),
        default="all",
        help="WassersteinVQ alignment(s) to run, one row each (default: all)",
    )
    compare_parser.add_argument(
        "--seed", type=int, default=0, help="random seed (default: 0)"
    )
    compare_parser.add_argument(
        "--max-iter",
        type=_positive_int,
        default=50,
        help="iterations for every method (default: 50)",
    )
    compare_parser.add_argument(
        "--n-samples",
        type=_positive_int,
        default=20000,
        help="rows of the built-in data sets (default: 20000)",
    )
    compare_parser.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="also write every row (dataset, method, E, U, C, W, fit_seconds)",
    )
    compare_parser.add_argument(
        "--plot",
        type=Path,
        metavar="FILE",
        help=(
            "also draw the comparison (E / lowest E, U, C, fit time per method) "
            "into FILE, e.g. compare.png or compare.pdf (needs matplotlib)"
        ),
    )
    compare_parser.add_argument(
        "--progress",
        action="store_true",
        help="report each finished fit (a tqdm bar when tqdm is installed)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _run_compare(args: argparse.Namespace) -> int:
    try:
        datasets = _datasets(args)
    except (OSError, ValueError) as exc:
        print(f"skwvq compare: error: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:  # a missing dependency, e.g. Pillow for china.jpg
        print(f"skwvq compare: error: {exc}", file=sys.stderr)
        return 1
    if args.plot is not None:
        try:
            import skwvq.plotting  # noqa: F401
        except ImportError as exc:
            print(f"skwvq compare: error: --plot: {exc}", file=sys.stderr)
            return 1
    alignments = ALIGNMENTS if args.alignment == "all" else (args.alignment,)
    warm_up({dataset.X.dtype for dataset in datasets}, alignments)
    all_rows = []
    for index, dataset in enumerate(datasets):
        rows = compare(
            dataset,
            alignments,
            args.max_iter,
            args.seed,
            torch_available(),
            progress=args.progress,
        )
        if index:
            print()
        print(_format_table(dataset.title, rows), flush=True)
        all_rows.extend(rows)
    if args.csv is not None:
        _write_csv(args.csv, all_rows)
    if args.plot is not None:
        _write_plot(args.plot, all_rows)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``skwvq`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` if None.

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a usage error or an unreadable
        ``--data`` file, 1 when a dependency the data need is missing.

    Examples
    --------
    >>> from skwvq.cli import main
    >>> main(["compare", "--data", "missing.txt"])
    2
    """
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help()
        return 0
    return _run_compare(args)
