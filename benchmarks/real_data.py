"""Real data: colour quantization of scikit-learn's sample images, and the digits.

Images (china.jpg, flower.jpg): every method is fitted on a random subsample of
50,000 pixels (RGB in [0, 1]) and then quantizes the whole image; E, U and C are
measured on all the image's pixels and PSNR on the quantized 8-bit image against
the original (peak 255). Digits (``load_digits``, 1,797 x 64, scaled to [0, 1]):
fitted and measured on all samples, PSNR on the 0..16 scale (peak 16).

Methods: ``WassersteinVQ`` with its defaults (``init="auto"``),
``WassersteinVQ(target="data")`` (the paper's target: match the data density
itself) and ``KMeans`` (k-means++, ``n_init=1``), at K in {16, 64, 256} for the
images and {16, 64, 256, 1024} for the digits (at K = 1024, 1.75 samples per code;
U = 1 is still attainable, the 1,797 rows being distinct). The quantized images (original |
KMeans++ | WassersteinVQ) are saved side by side at K = 64.

Every figure is the median over 3 seeds (``--seeds``) of the methods' own random
draws; the pictures show the first seed.

Run: ``python benchmarks/real_data.py`` (about 5 minutes on 2 cores) or
``--quick`` (china.jpg only, K = 16, subsample 5,000; digits K = 16). Writes
results/real_data.csv, docs/figures/real_data.png and
docs/figures/real_data_{china,flower}.png (``-quick`` suffix in quick mode;
``--out DIR`` puts all of them in DIR). Reading the images needs pillow.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits, load_sample_image

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq import WassersteinVQ
from skwvq.datasets import sample_image_pixels
from skwvq.metrics import (
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
)

NAME = "real_data"
METHODS = ("WVQ (default)", "WVQ (target=data)", "KMeans++")
IMAGE_K = 64
HEADER = [
    "data",
    "n_clusters",
    "method",
    "E",
    "U",
    "C",
    "PSNR_dB",
    "E_ratio_to_kmeans",
    "fit_s",
    "n_iter",
    "n_fit",
    "n_eval",
]


def make_model(method: str, n_clusters: int, seed: int):
    """An unfitted estimator for one of ``METHODS``."""
    if method == "KMeans++":
        return KMeans(n_clusters, n_init=1, random_state=seed)
    target = "data" if "data" in method else "auto"
    return WassersteinVQ(n_clusters, target=target, random_state=seed)


def warm_up() -> None:
    """Fit every estimator once on tiny data, so that timings leave out one-off
    costs (numba's cache loading, first calls into BLAS and POT)."""
    X = np.random.default_rng(0).normal(size=(512, 3))
    for alignment in ("sliced", "gaussian", "exact"):
        WassersteinVQ(8, alignment=alignment, max_iter=3, random_state=0).fit(X)
    KMeans(8, n_init=1, random_state=0).fit(X)


def psnr(original: np.ndarray, reconstructed: np.ndarray, peak: float) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(peak^2 / MSE)``."""
    mse = float(np.mean((original.astype(np.float64) - reconstructed) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(peak**2 / mse)


def evaluate(
    model, X_eval: np.ndarray, original: np.ndarray, peak: float, scale: float
) -> tuple[list[float], np.ndarray]:
    """E, U, C on ``X_eval`` and PSNR of the quantized data on the original scale.

    Parameters
    ----------
    model : fitted quantizer with ``cluster_centers_`` and ``predict``
    X_eval : ndarray of shape (n_samples, n_features)
        Data in the fitted space.
    original : ndarray of shape (n_samples, n_features)
        The same data on the original scale (8-bit pixels, digit grey levels).
    peak : float
        Peak value of the original scale.
    scale : float
        ``original = X_eval * scale``; quantized values are rounded to integers.

    Returns
    -------
    metrics : list of float
        E, U, C, PSNR.
    quantized : ndarray of shape (n_samples, n_features)
        The rounded quantized data on the original scale.
    """
    codebook = np.asarray(model.cluster_centers_)
    quantized = np.clip(np.rint(codebook[model.predict(X_eval)] * scale), 0, peak)
    metrics = [
        quantization_error(X_eval, codebook),
        codebook_utilization(X_eval, codebook),
        codebook_perplexity(X_eval, codebook),
        psnr(original, quantized, peak),
    ]
    return metrics, quantized


def image_cases(
    names: Sequence[str], n_fit: int, seed: int
) -> Iterator[tuple[str, np.ndarray, np.ndarray, np.ndarray, float, float]]:
    """(name, fit data, evaluation data, original, peak, scale) per sample image."""
    for name in names:
        image = load_sample_image(name)
        pixels = sample_image_pixels(name, n_samples=None)
        fit = sample_image_pixels(name, n_samples=n_fit, random_state=seed)
        yield name, fit, pixels, image.reshape(-1, 3), 255.0, 255.0


def digits_case() -> tuple[str, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """(name, fit data, evaluation data, original, peak, scale) of the digits."""
    raw = load_digits().data
    X = raw / 16.0
    return "digits", X, X, raw, 16.0, 16.0


def run_case(
    case: tuple, cluster_sizes: Sequence[int], seeds: Sequence[int], image_k: int
) -> tuple[list[list], dict[str, np.ndarray]]:
    """CSV rows for one data set (medians over ``seeds``), and the quantized images at ``image_k`` of the first seed (images only)."""
    name, X_fit, X_eval, original, peak, scale = case
    rows, quantized_images = [], {}
    for n_clusters in cluster_sizes:
        per_seed = {method: [] for method in METHODS}
        for seed in seeds:
            for method in METHODS:
                model = make_model(method, n_clusters, seed)
                start = time.perf_counter()
                model.fit(X_fit)
                elapsed = time.perf_counter() - start
                metrics, quantized = evaluate(model, X_eval, original, peak, scale)
                per_seed[method].append([*metrics, elapsed, model.n_iter_])
                if name.endswith(".jpg") and n_clusters == image_k and seed == seeds[0]:
                    quantized_images[method] = quantized
        reference = np.array(per_seed["KMeans++"])[:, 0]
        for method in METHODS:
            values = np.array(per_seed[method])
            E, U, C, psnr, elapsed, n_iter = np.median(values, axis=0)
            ratio = float(np.median(values[:, 0] / reference))
            rows.append(
                [name, n_clusters, method, E, U, C, psnr, ratio, elapsed, n_iter]
                + [len(X_fit), len(X_eval)]
            )
        print(f"  {name} K={n_clusters} done", flush=True)
    return rows, quantized_images


def pyplot():
    """matplotlib.pyplot with the Agg backend, or None when matplotlib is absent."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: figures skipped")
        return None
    return plt


def plot_image(
    name: str, quantized: dict[str, np.ndarray], rows: list[list], k: int, path: Path
) -> Path | None:
    """Original | KMeans++ | WassersteinVQ (default), side by side."""
    plt = pyplot()
    if plt is None:
        return None
    image = load_sample_image(name)
    stats = {r[2]: r for r in rows if r[0] == name and r[1] == k}
    panels = [("original", image)]
    for method in ("KMeans++", "WVQ (default)"):
        row = stats[method]
        title = f"{method}, K={k}: PSNR {row[6]:.2f} dB, U {row[4]:.2f}"
        panels.append((title, quantized[method].reshape(image.shape).astype(np.uint8)))
    fig, axes = plt.subplots(1, 3, figsize=(15, 3.9), constrained_layout=True)
    for ax, (title, picture) in zip(axes, panels):
        ax.imshow(picture)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_ratios(rows: list[list], path: Path) -> Path | None:
    """E / E(KMeans++) against K, one panel per data set."""
    plt = pyplot()
    if plt is None:
        return None
    names = list(dict.fromkeys(r[0] for r in rows))
    fig, axes = plt.subplots(
        1,
        len(names),
        figsize=(4.5 * len(names), 4),
        constrained_layout=True,
        squeeze=False,
    )
    for ax, name in zip(axes[0], names):
        for method, marker in zip(METHODS[:2], "os"):
            points = sorted(
                (r[1], r[7]) for r in rows if r[0] == name and r[2] == method
            )
            x, y = np.array(points, dtype=float).T
            ax.plot(x, y, marker=marker, label=method)
        ax.axhline(1.0, color="k", lw=0.8, ls="--", label="KMeans++")
        ax.axhline(1.02, color="grey", lw=0.8, ls=":", label="goal: +2%")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("codebook size K")
        ax.set_ylabel("E / E(KMeans++)")
        ax.set_title(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="china.jpg only, K=16, subsample 5000; digits K=16",
    )
    parser.add_argument(
        "--n-fit", type=int, default=None, help="pixels to fit on (default 50000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds per fit (medians are reported)"
    )
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the image and digits comparisons, print the tables, write CSV and figures.

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
    quick = args.quick or args.tiny
    if quick:
        images, image_sizes, digit_sizes = ("china.jpg",), (16,), (16,)
        n_fit = 2000 if args.tiny else 5000
    else:
        images, image_sizes, digit_sizes = (
            ("china.jpg", "flower.jpg"),
            (16, 64, 256),
            (16, 64, 256, 1024),
        )
        n_fit = 50000
    n_fit = args.n_fit or n_fit
    image_k = IMAGE_K if IMAGE_K in image_sizes else image_sizes[-1]
    seeds = list(range(args.seed, args.seed + (1 if quick else args.seeds)))
    print(machine_description())
    print(
        f"images: fit on {n_fit} random pixels, measured on the whole image; "
        f"digits: fit and measured on all 1797 samples; medians of {len(seeds)} "
        f"seeds from {args.seed}"
    )
    warm_up()
    rows, pictures = [], {}
    for case in image_cases(images, n_fit, args.seed):
        case_rows, pictures[case[0]] = run_case(case, image_sizes, seeds, image_k)
        rows += case_rows
    rows += run_case(digits_case(), digit_sizes, seeds, image_k)[0]
    header = [
        "K",
        "method",
        "E",
        "U",
        "C",
        "PSNR dB",
        "E/E(KMeans++)",
        "fit s",
        "iters",
    ]
    for name in dict.fromkeys(r[0] for r in rows):
        print(f"\n{name}")
        print(format_table(header, [r[1:10] for r in rows if r[0] == name]))
    suffix = "-quick" if quick else ""
    results = args.out or _common.RESULTS
    figures = args.out or _common.FIGURES
    print(f"\nwrote {_common.write_csv(NAME + suffix, HEADER, rows, results)}")
    figures.mkdir(parents=True, exist_ok=True)
    written = [plot_ratios(rows, figures / f"{NAME}{suffix}.png")]
    for name, quantized in pictures.items():
        stem = name.removesuffix(".jpg")
        path = figures / f"{NAME}_{stem}{suffix}.png"
        written.append(plot_image(name, quantized, rows, image_k, path))
    for path in written:
        if path is not None:
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
