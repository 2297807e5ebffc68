"""Per-code statistics of a block of rows (counts, sums, error), which add over blocks, and the usage measures U and C read from counts.

Below the solver, the metrics, the Dask fit and the layer alike: each gathers
``CodeStatistics`` with ``block_statistics`` (or adds those of blocks, ranks,
workers) and reads utilization and perplexity from the counts.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass
class CodeStatistics:
    """Per-code statistics of a block of rows, which add over blocks.

    Attributes
    ----------
    counts : array of shape (n_codes,), float64
        Weight of the rows assigned to each code.
    sums : array of shape (n_codes, n_features), float64
        Weighted sum of the rows assigned to each code.
    error : float
        Weighted sum of the rows' squared distances to their codes.
    weight : float
        Total weight of the rows.
    rows : int
        Number of rows.

    Examples
    --------
    >>> import numpy as np
    >>> a = CodeStatistics(np.array([1.0, 0.0]), np.array([[2.0], [0.0]]), 0.5, 1.0, 1)
    >>> b = CodeStatistics(np.array([0.0, 2.0]), np.array([[0.0], [6.0]]), 1.5, 2.0, 2)
    >>> (a + b).counts, (a + b).error
    (array([1., 2.]), 2.0)
    """

    counts: object
    sums: object
    error: float
    weight: float
    rows: int

    def __add__(self, other: CodeStatistics) -> CodeStatistics:
        return CodeStatistics(
            self.counts + other.counts,
            self.sums + other.sums,
            self.error + other.error,
            self.weight + other.weight,
            self.rows + other.rows,
        )

    def scaled(self, factor: float) -> CodeStatistics:
        """The statistics with every sum multiplied by ``factor`` (forgetting)."""
        return CodeStatistics(
            factor * self.counts,
            factor * self.sums,
            factor * self.error,
            factor * self.weight,
            self.rows,
        )

    def to_backend(self, nx) -> CodeStatistics:
        """The statistics with their arrays on backend ``nx``."""
        return replace(self, counts=nx.float64(self.counts), sums=nx.float64(self.sums))


def block_statistics(nx, X, codebook, sample_weight, x_sq_norms=None):
    """Assign a block of rows to its nearest codes and gather its statistics.

    Parameters
    ----------
    nx : NumpyBackend or TorchBackend
    X : array or tensor of shape (n_rows, n_features)
    codebook : array or tensor of shape (n_codes, n_features)
    sample_weight : array or tensor of shape (n_rows,) or None
        None weighs every row 1 (and skips the products by the weights).
    x_sq_norms : array or tensor of shape (n_rows,), default=None

    Returns
    -------
    statistics : CodeStatistics
    labels : array or tensor of shape (n_rows,), int64

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.backends import backend_of
    >>> X = np.array([[0.0], [1.0], [9.0]])
    >>> stats, labels = block_statistics(
    ...     backend_of(X), X, np.array([[0.0], [10.0]]), np.ones(3)
    ... )
    >>> labels, stats.counts, stats.error
    (array([0, 0, 1]), array([2., 1.]), 2.0)
    """
    result = nx.assign(X, codebook, sample_weight=sample_weight, x_sq_norms=x_sq_norms)
    if sample_weight is None:
        error, weight = float(nx.sum(result.sq_distances)), float(X.shape[0])
    else:
        error = float(nx.sum(sample_weight * result.sq_distances))
        weight = float(nx.sum(sample_weight))
    statistics = CodeStatistics(result.counts, result.sums, error, weight, X.shape[0])
    return statistics, result.labels


def utilization_from_counts(counts) -> float:
    """Share of codes with a positive count: the utilization U.

    Examples
    --------
    >>> import numpy as np
    >>> utilization_from_counts(np.array([3.0, 0.0, 1.0, 0.0]))
    0.5
    """
    return float(np.mean(counts > 0))


def perplexity_from_counts(counts) -> float:
    """exp of the entropy (natural log) of the usage histogram ``counts``: the perplexity C.

    Examples
    --------
    >>> import numpy as np
    >>> perplexity_from_counts(np.array([2.0, 2.0, 0.0]))
    2.0
    """
    p = counts[counts > 0] / counts.sum()
    return float(np.exp(-np.sum(p * np.log(p))))
