"""Quantizer metrics (E, U, C, W) and scorers that judge any fitted quantizer by them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from ._inputs import as_rows
from ._statistics import perplexity_from_counts, utilization_from_counts
from .alignment import ALIGNMENTS
from .backends import to_host

__all__ = [
    "quantization_error",
    "codebook_utilization",
    "codebook_perplexity",
    "wasserstein_distance",
    "utilization_per_level",
    "perplexity_per_level",
    "quantization_error_scorer",
    "utilization_scorer",
    "perplexity_scorer",
    "wasserstein_scorer",
    "vq_scores",
    "get_scorer",
]


def _check_inputs(X, codebook, sample_weight, *, covariance=False):
    """X as the rows of its kind (``skwvq._inputs``), its weights checked, and the codebook in its dtype.

    A dask X is scanned once on its cluster (finite values, moments: the full
    covariance with ``covariance``).
    """
    rows = as_rows(X, backend="numpy")
    rows.check_sample_weight(sample_weight, covariance=covariance)
    codebook = check_array(codebook, dtype=rows.dtype, input_name="codebook")
    if codebook.shape[1] != rows.n_features:
        raise ValueError(
            f"X has {rows.n_features} features but the codebook has {codebook.shape[1]}."
        )
    return rows, codebook


def _usage(rows, codebook):
    """The (weighted) mean squared error and per-code counts, from the one assignment kernel."""
    statistics = rows.code_statistics(codebook)
    return statistics.error / statistics.weight, statistics.counts


def quantization_error(X, codebook, *, sample_weight=None) -> float:
    """Quantization error E: mean squared distance from each sample to its nearest code.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    codebook : array-like of shape (n_codes, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
        E is then the weighted mean.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.metrics import quantization_error
    >>> quantization_error(np.array([[0.0], [1.0], [4.0]]), np.array([[0.0], [4.0]]))
    0.3333333333333333
    """
    rows, codebook = _check_inputs(X, codebook, sample_weight)
    error, _ = _usage(rows, codebook)
    return error


def codebook_utilization(X, codebook, *, sample_weight=None) -> float:
    """Codebook utilization U: fraction of codes that are nearest to at least one sample.

    Samples of zero weight do not count as using their code.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    codebook : array-like of shape (n_codes, n_features)
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.metrics import codebook_utilization
    >>> codebook_utilization(np.array([[0.0], [1.0]]), np.array([[0.0], [9.0]]))
    0.5
    """
    rows, codebook = _check_inputs(X, codebook, sample_weight)
    _, counts = _usage(rows, codebook)
    return utilization_from_counts(counts)


def codebook_perplexity(X, codebook, *, sample_weight=None) -> float:
    """Codebook perplexity C: exp of the entropy (natural log) of the code-usage histogram.

    ``1 <= C <= n_codes``; ``C = n_codes`` when every code is used equally.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    codebook : array-like of shape (n_codes, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
        The histogram counts weights instead of samples.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.metrics import codebook_perplexity
    >>> codebook_perplexity(np.array([[0.0], [1.0], [9.0], [8.0]]), np.array([[0.0], [9.0]]))
    2.0
    """
    rows, codebook = _check_inputs(X, codebook, sample_weight)
    _, counts = _usage(rows, codebook)
    return perplexity_from_counts(counts)


def _level_counts(codes, n_clusters: int) -> np.ndarray:
    """Per-level code counts, shape (n_codebooks, n_clusters), of codes of any kind."""
    codes = np.asarray(to_host(codes))
    codes = codes.reshape(len(codes), -1).astype(np.int64)
    if codes.size and (codes.min() < 0 or codes.max() >= n_clusters):
        raise ValueError(f"codes must lie in [0, {n_clusters}).")
    return np.stack(
        [np.bincount(level, minlength=n_clusters) for level in codes.T]
    ).astype(np.float64)


def utilization_per_level(codes, n_clusters: int) -> np.ndarray:
    """Codebook utilization U of every level: the fraction of its codes some row uses.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codebooks) or (n_samples,)
        Codes of a multi-codebook quantizer (its ``transform``), or the labels
        of a single codebook (``predict``).
    n_clusters : int
        Codes per codebook.

    Returns
    -------
    ndarray of shape (n_codebooks,)

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.metrics import utilization_per_level
    >>> utilization_per_level(np.array([[0, 1], [1, 1]]), n_clusters=2)
    array([1. , 0.5])
    """
    return np.array(
        [utilization_from_counts(c) for c in _level_counts(codes, n_clusters)]
    )


def perplexity_per_level(codes, n_clusters: int) -> np.ndarray:
    """Codebook perplexity C of every level: exp of the entropy of its code histogram.

    Parameters
    ----------
    codes : array-like of shape (n_samples, n_codebooks) or (n_samples,)
    n_clusters : int

    Returns
    -------
    ndarray of shape (n_codebooks,)

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.metrics import perplexity_per_level
    >>> perplexity_per_level(np.array([[0, 1], [1, 1]]), n_clusters=2)
    array([2., 1.])
    """
    return np.array(
        [perplexity_from_counts(c) for c in _level_counts(codes, n_clusters)]
    )


def wasserstein_distance(
    X,
    codebook,
    *,
    sample_weight=None,
    method: str = "gaussian",
    n_projections: int = 256,
    max_samples: int | None = 4096,
    random_state=None,
) -> float:
    """2-Wasserstein distance W between the data and the uniformly weighted codebook.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    codebook : array-like of shape (n_codes, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
        Masses of the samples (normalised to sum to one).
    method : {"gaussian", "sliced", "exact"}, default="gaussian"
        An alignment method of ``skwvq.alignment.ALIGNMENTS``, matched to the
        data's own distribution. ``"gaussian"``: closed form between the Gaussian fits of both sides (only
        means and covariances count). ``"sliced"``: ``sqrt(d)`` times the sliced
        2-Wasserstein distance over ``n_projections`` random directions, a scale on
        which a translation by ``v`` gives ``|v|``, as W does. ``"exact"``: exact OT
        (``ot.emd``) between at most ``max_samples`` samples and the codes.
    n_projections : int, default=256
        Directions for ``"sliced"``.
    max_samples : int or None, default=4096
        Samples drawn (without replacement) for ``"sliced"`` and ``"exact"``;
        all if None.
    random_state : int, RandomState instance or None, default=None
        Draws of directions and samples.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.metrics import wasserstein_distance
    >>> rng = np.random.default_rng(0)
    >>> codebook = rng.normal(size=(200, 2))
    >>> X = codebook + np.array([3.0, 4.0])
    >>> round(wasserstein_distance(X, codebook, method="gaussian"), 6)
    5.0
    >>> round(wasserstein_distance(X, codebook, method="exact"), 6)
    5.0
    """
    if method not in ALIGNMENTS:
        raise ValueError(f"method must be one of {tuple(ALIGNMENTS)}, got {method!r}.")
    alignment = ALIGNMENTS[method]
    rows, codebook = _check_inputs(
        X, codebook, sample_weight, covariance=alignment.needs_covariance
    )
    size, n_samples = None, rows.n_samples
    if alignment.default_sample_size(codebook.shape[0], n_samples) is not None:
        size = n_samples if max_samples is None else min(max_samples, n_samples)
        alignment.check_size(size, codebook.shape[0], what="method", size="max_samples")
    data_side = alignment.from_data(
        rows,
        n_codes=codebook.shape[0],
        target="data",
        sample_size=size,
        n_projections=n_projections,
        rng=check_random_state(random_state),
    )
    _, w2 = data_side.targets(codebook)
    return float(np.sqrt(w2))


# --------------------------------------------------------------------------- #
# Scorers: callables (estimator, X, y=None) for GridSearchCV(scoring=...)
# --------------------------------------------------------------------------- #
class _Judged:
    """A fitted quantizer's view of X: its codebook (single) or its codes and reconstruction (multi)."""

    def __init__(self, estimator, X):
        if isinstance(estimator, Pipeline):
            if len(estimator.steps) > 1:
                X = estimator[:-1].transform(X)
            estimator = estimator[-1]
        check_is_fitted(estimator)
        self.X, self.codebook, self.codes = X, None, None
        if hasattr(estimator, "codebooks_"):
            self.codes = estimator.transform(X)
            self.reconstruction = estimator.inverse_transform(self.codes)
            self.n_clusters, self.error = estimator.n_clusters, -estimator.score(X)
            return
        for name in ("codebook_", "cluster_centers_"):
            if getattr(estimator, name, None) is not None:
                self.codebook = np.asarray(getattr(estimator, name))
                return
        raise TypeError(
            f"{type(estimator).__name__} has neither codebook_ nor cluster_centers_ "
            "(nor codebooks_): the vector-quantization scorers need a fitted "
            "quantizer such as WassersteinVQ, ResidualWassersteinVQ, "
            "ProductWassersteinVQ, KMeans or MiniBatchKMeans."
        )

    def scores(self) -> dict[str, float]:
        """E, U and C (of the worst level), from one assignment or one encoding."""
        if self.codes is None:
            rows, codebook = _check_inputs(self.X, self.codebook, None)
            error, counts = _usage(rows, codebook)
            return {"E": error, "U": utilization_from_counts(counts),
                    "C": perplexity_from_counts(counts)}  # fmt: skip
        return {
            "E": self.error,
            "U": float(utilization_per_level(self.codes, self.n_clusters).min()),
            "C": float(perplexity_per_level(self.codes, self.n_clusters).min()),
        }

    def wasserstein(self) -> float:
        """Gaussian W2 between X and the codebook (single) or the reconstruction of X (multi)."""
        other = self.codebook if self.codes is None else self.reconstruction
        return wasserstein_distance(self.X, other, method="gaussian")


def quantization_error_scorer(estimator, X, y=None) -> float:
    """Scorer: minus the quantization error E of the fitted quantizer on X (greater is better).

    For a multi-codebook quantizer E is the mean squared distance of each row
    to its reconstruction.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from skwvq.metrics import quantization_error_scorer
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> km = KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    >>> quantization_error_scorer(km, X)
    -0.25
    """
    return -_Judged(estimator, X).scores()["E"]


def utilization_scorer(estimator, X, y=None) -> float:
    """Scorer: codebook utilization U of the fitted quantizer on X (of its worst level if it has several).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from skwvq.metrics import utilization_scorer
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> utilization_scorer(KMeans(n_clusters=2, n_init=1, random_state=0).fit(X), X)
    1.0
    """
    return _Judged(estimator, X).scores()["U"]


def perplexity_scorer(estimator, X, y=None) -> float:
    """Scorer: codebook perplexity C of the fitted quantizer on X (of its worst level if it has several).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from skwvq.metrics import perplexity_scorer
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> perplexity_scorer(KMeans(n_clusters=2, n_init=1, random_state=0).fit(X), X)
    2.0
    """
    return _Judged(estimator, X).scores()["C"]


def wasserstein_scorer(estimator, X, y=None) -> float:
    """Scorer: minus the Gaussian 2-Wasserstein distance between X and the codebook (a multi-codebook quantizer's reconstruction of X).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from skwvq.metrics import wasserstein_scorer
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> km = KMeans(n_clusters=2, n_init=1, random_state=0).fit(X)
    >>> round(wasserstein_scorer(km, X), 4)  # variances 25.25 and 25: 5 - sqrt(25.25)
    -0.0249
    """
    return -_Judged(estimator, X).wasserstein()


def vq_scores(estimator, X, y=None) -> dict[str, float]:
    """All four scores at once, for multi-metric search (``GridSearchCV(scoring=vq_scores)``).

    Keys: ``"neg_quantization_error"``, ``"utilization"``, ``"perplexity"``,
    ``"neg_wasserstein"``. One assignment pass (one encoding of a
    multi-codebook quantizer) serves E, U and C; U and C are those of the
    worst level. Over ``n_codebooks`` x ``n_clusters`` of a multi-codebook
    quantizer it is a rate-distortion search: ``n_codebooks log2(n_clusters)``
    bits a row against E.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.cluster import KMeans
    >>> from skwvq.metrics import vq_scores
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0]])
    >>> scores = vq_scores(KMeans(n_clusters=2, n_init=1, random_state=0).fit(X), X)
    >>> scores["neg_quantization_error"], scores["utilization"], scores["perplexity"]
    (-0.25, 1.0, 2.0)
    """
    judged = _Judged(estimator, X)
    scores = judged.scores()
    return {
        "neg_quantization_error": -scores["E"],
        "utilization": scores["U"],
        "perplexity": scores["C"],
        "neg_wasserstein": -judged.wasserstein(),
    }


_SCORERS: dict[str, Callable] = {
    "neg_quantization_error": quantization_error_scorer,
    "utilization": utilization_scorer,
    "perplexity": perplexity_scorer,
    "neg_wasserstein": wasserstein_scorer,
}


def get_scorer(name: str) -> Callable:
    """The scorer callable registered under ``name``.

    Parameters
    ----------
    name : {"neg_quantization_error", "utilization", "perplexity", "neg_wasserstein"}

    Returns
    -------
    callable
        ``scorer(estimator, X, y=None) -> float``, greater is better.

    Examples
    --------
    >>> from skwvq.metrics import get_scorer
    >>> get_scorer("utilization").__name__
    'utilization_scorer'
    """
    try:
        return _SCORERS[name]
    except KeyError:
        raise ValueError(
            f"Unknown scorer {name!r}; available: {sorted(_SCORERS)}."
        ) from None
