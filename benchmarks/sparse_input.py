"""Sparse input: WassersteinVQ against KMeans on a TF-IDF-like CSR matrix.

The matrix imitates bag-of-words features: documents of about 50 distinct words
drawn from a Zipfian vocabulary of 50,000, each document mixing one of 50
topics' own words with the common ones, turned into L2-normalised TF-IDF rows by
scikit-learn's ``TfidfTransformer`` (20,000 × 50,000, 0.1% of entries nonzero).

Methods, all on the CSR matrix as given: ``WassersteinVQ`` with its defaults,
``KMeans`` (k-means++, ``n_init=1``) and ``MiniBatchKMeans`` (k-means++,
``n_init=1``, its default batches), K = 256. E (mean squared distance to the
nearest code), U and C are measured on the whole matrix with ``skwvq.metrics``;
fit seconds and iterations are medians over 3 seeds (``--seeds``), ratios are
taken seed by seed against KMeans before the median. The peak memory a fit
allocates (``tracemalloc``, first seed, in a separate untimed fit) is set beside
the densified matrix's size.

Run: ``python benchmarks/sparse_input.py`` (about 4 minutes on 2 cores) or ``--quick``
(5,000 × 20,000, K = 64, one seed). Writes results/sparse_input.csv (``-quick`` suffix
in quick mode; ``--out DIR`` puts it in DIR).
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.feature_extraction.text import TfidfTransformer

sys.path.insert(0, str(Path(__file__).parent))
import _common
from _common import format_table, machine_description

from skwvq import WassersteinVQ
from skwvq.metrics import codebook_perplexity, codebook_utilization, quantization_error

NAME = "sparse_input"
METHODS = ("WVQ (default)", "KMeans++", "MiniBatchKMeans")
HEADER = [
    "n_samples",
    "n_features",
    "density",
    "n_clusters",
    "method",
    "E",
    "U",
    "C",
    "E_ratio_to_kmeans",
    "fit_s",
    "time_ratio_to_kmeans",
    "n_iter",
    "peak_fit_MB",
    "dense_X_MB",
]


def tfidf_like(
    n_samples: int,
    n_features: int,
    words_per_document: int = 50,
    n_topics: int = 50,
    topic_share: float = 0.5,
    seed: int = 0,
) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows of synthetic documents (see the module docstring).

    Every document draws ``words_per_document`` word occurrences, a share
    ``topic_share`` of them from its topic's own slice of the vocabulary and the
    rest from a Zipfian law over all of it (rank ``r`` with probability
    ``~ 1 / r``).
    """
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, n_features + 1)
    zipf /= zipf.sum()
    topic_width = n_features // n_topics
    topics = rng.integers(n_topics, size=n_samples)
    n_topical = rng.binomial(words_per_document, topic_share, size=n_samples)
    rows = np.repeat(np.arange(n_samples), words_per_document)
    common = rng.choice(n_features, size=rows.size, p=zipf)
    topical = topics[rows] * topic_width + rng.integers(topic_width, size=rows.size)
    position = np.tile(np.arange(words_per_document), n_samples)
    words = np.where(position < n_topical[rows], topical, common)
    counts = sp.csr_matrix(
        (np.ones(rows.size), (rows, words)), shape=(n_samples, n_features)
    )
    counts.sum_duplicates()
    return TfidfTransformer().fit_transform(counts).tocsr()


def make_model(method: str, n_clusters: int, seed: int):
    """An unfitted estimator for one of ``METHODS``."""
    if method == "KMeans++":
        return KMeans(n_clusters, n_init=1, random_state=seed)
    if method == "MiniBatchKMeans":
        return MiniBatchKMeans(n_clusters, n_init=1, random_state=seed)
    return WassersteinVQ(n_clusters, random_state=seed)


def warm_up(X: sp.csr_matrix) -> None:
    """Fit every method once on a few rows, so that timings leave out one-off
    costs (numba's cache loading, first calls into BLAS and POT)."""
    for method in METHODS:
        make_model(method, 4, 0).fit(X[:256])


def peak_fit_memory(method: str, X: sp.csr_matrix, n_clusters: int) -> float:
    """MB that one fit allocates at its peak, beyond what was allocated before."""
    model = make_model(method, n_clusters, 0)
    tracemalloc.start()
    try:
        model.fit(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def run(X: sp.csr_matrix, n_clusters: int, seeds: Sequence[int]) -> list[list[object]]:
    """One CSV row per method: medians over ``seeds``."""
    per_seed = {method: [] for method in METHODS}
    for seed in seeds:
        for method in METHODS:
            model = make_model(method, n_clusters, seed)
            start = time.perf_counter()
            model.fit(X)
            elapsed = time.perf_counter() - start
            codebook = np.asarray(model.cluster_centers_)
            per_seed[method].append(
                [
                    quantization_error(X, codebook),
                    codebook_utilization(X, codebook),
                    codebook_perplexity(X, codebook),
                    elapsed,
                    model.n_iter_,
                ]
            )
        print(f"  seed {seed} done", flush=True)
    reference = np.array(per_seed["KMeans++"])
    n_samples, n_features = X.shape
    rows = []
    for method in METHODS:
        values = np.array(per_seed[method])
        E, U, C, elapsed, n_iter = np.median(values, axis=0)
        rows.append(
            [
                n_samples,
                n_features,
                X.nnz / (n_samples * n_features),
                n_clusters,
                method,
                E,
                U,
                C,
                float(np.median(values[:, 0] / reference[:, 0])),
                elapsed,
                float(np.median(values[:, 3] / reference[:, 3])),
                n_iter,
                peak_fit_memory(method, X, n_clusters),
                n_samples * n_features * 8 / 1e6,
            ]
        )
    return rows


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options (``--tiny``, hidden, is for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="5,000 x 20,000, K=64, one seed"
    )
    parser.add_argument("--seed", type=int, default=0, help="first seed")
    parser.add_argument(
        "--seeds", type=int, default=3, help="seeds per fit (medians are reported)"
    )
    _common.add_output_options(parser)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print its table and write the CSV; return 0."""
    args = parse_args(argv)
    quick = args.quick or args.tiny
    if args.tiny:
        n_samples, n_features, n_clusters = 1000, 5000, 16
    elif args.quick:
        n_samples, n_features, n_clusters = 5000, 20_000, 64
    else:
        n_samples, n_features, n_clusters = 20_000, 50_000, 256
    seeds = list(range(args.seed, args.seed + (1 if quick else args.seeds)))
    print(machine_description())
    X = tfidf_like(n_samples, n_features)
    print(
        f"TF-IDF-like CSR matrix {n_samples:,} x {n_features:,}, "
        f"{X.nnz:,} nonzeros ({X.nnz / (n_samples * n_features):.3%}), K = {n_clusters}"
    )
    warm_up(X)
    rows = run(X, n_clusters, seeds)
    print(format_table(HEADER[3:], [row[3:] for row in rows]))
    name = NAME + ("-quick" if quick else "")
    print("wrote", _common.write_csv(name, HEADER, rows, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
