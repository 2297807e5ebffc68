"""Weighted feature moments of rows (mean and covariance, or per-feature variances), which merge over chunks, batches, blocks and ranks.

One implementation serves every place that needs the data's moments: the
Gaussian alignment and ``init="gaussian"`` (a fit's rows), the stopping rule's
scale (per-feature variances), a ``partial_fit`` stream (merged batch by
batch), a Dask fit's first pass (merged over blocks in a tree) and the layer
(decayed, and summed over ranks). Moments are kept as the total weight, the
mean and the scatter ``sum_i w_i (x_i - mean)(x_i - mean)^T`` (its diagonal
only, for variances), which merge exactly and without cancellation (Chan et
al.). The arrays stay on the backend of the rows they came from.
"""

from __future__ import annotations

from dataclasses import dataclass

from .backends import backend_of
from .kernels import slices

# A covariance matrix is refused past this many entries (2 GiB in float64):
# Gaussian alignment takes eigendecompositions of d x d matrices every
# iteration, which at that size take minutes each.
MAX_COVARIANCE_ENTRIES = 1 << 28


def check_covariance_size(n_features: int) -> None:
    """Refuse a covariance too large to hold and decompose, naming the way out.

    Examples
    --------
    >>> check_covariance_size(64)  # 64 x 64: nothing to refuse
    """
    if n_features * n_features > MAX_COVARIANCE_ENTRIES:
        raise ValueError(
            f"alignment='gaussian' and init='gaussian' need the {n_features} x "
            f"{n_features} covariance of the data ({n_features**2 * 8 / 2**30:.0f} "
            "GiB, an eigendecomposition per iteration); use alignment='sliced' "
            "and init='auto', which scale to any number of features."
        )


@dataclass(frozen=True)
class Moments:
    """Total weight, mean and scatter of weighted rows.

    Attributes
    ----------
    weight : float
        Total weight of the rows.
    mean : array or tensor of shape (n_features,), float64
    scatter : array or tensor of shape (n_features, n_features) or (n_features,), float64
        ``sum_i w_i (x_i - mean)(x_i - mean)^T``, or its diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> parts = [Moments.of(block) for block in np.array_split(X, 7)]
    >>> merged = Moments.empty(2)
    >>> for part in parts:
    ...     merged = merged.merge(part)
    >>> bool(np.allclose(merged.cov, np.cov(X.T, bias=True)))
    True
    """

    weight: float
    mean: object
    scatter: object

    @property
    def diagonal(self) -> bool:
        """Whether only the per-feature variances are kept."""
        return self.scatter.ndim == 1

    @classmethod
    def empty(cls, n_features: int, *, diagonal: bool = False, like=None) -> Moments:
        """The moments of no rows, on the backend (and device) of ``like``."""
        if not diagonal:
            check_covariance_size(n_features)
        nx = backend_of(like)
        shape = (n_features,) if diagonal else (n_features, n_features)
        mean = nx.float64(nx.zeros(n_features, type_as=like))
        return cls(0.0, mean, nx.float64(nx.zeros(shape, type_as=like)))

    @classmethod
    def of(cls, X, sample_weight=None, *, diagonal: bool = False) -> Moments:
        """The moments of the rows of ``X`` (dense, on its backend), in float64, chunk by chunk.

        Two passes, the mean first, so the scatter is summed from centred rows.
        Chunks of ``nx.moment_rows`` rows bound the float64 temporaries.

        Parameters
        ----------
        X : array, memmap or tensor of shape (n_samples, n_features)
        sample_weight : array or tensor of shape (n_samples,), default=None
            Ones if None.
        diagonal : bool, default=False
            Keep only the per-feature variances.
        """
        nx = backend_of(X, sample_weight)
        n_samples, n_features = X.shape
        if sample_weight is None:
            w = nx.ones(n_samples, type_as=nx.float64(X[:1]))
        else:
            w = nx.float64(sample_weight)
        weight = float(nx.sum(w))
        if weight == 0:
            return cls.empty(n_features, diagonal=diagonal, like=w)
        if not diagonal:
            check_covariance_size(n_features)
        chunks = slices(n_samples, nx.moment_rows(n_features))
        if len(chunks) == 1:  # one float64 copy serves both passes
            X, chunks = nx.float64(X), [slice(None)]
        mean = sum(w[rows] @ nx.float64(X[rows]) for rows in chunks) / weight
        scatter = 0.0
        for rows in chunks:
            centred = nx.float64(X[rows]) - mean
            if diagonal:
                scatter = scatter + w[rows] @ (centred * centred)
            else:
                scatter = scatter + centred.T @ (centred * w[rows, None])
        return cls(weight, mean, scatter)

    def merge(self, other: Moments) -> Moments:
        """The moments of these rows and ``other``'s together (Chan et al.'s update)."""
        if other.weight == 0:
            return self
        if self.weight == 0:
            return other
        nx = backend_of(self.mean)
        total = self.weight + other.weight
        delta = other.mean - self.mean
        spread = delta * delta if self.diagonal else nx.outer(delta, delta)
        scatter = (
            self.scatter + other.scatter + spread * (self.weight * other.weight / total)
        )
        mean = self.mean + delta * (other.weight / total)
        return Moments(total, mean, scatter)

    def scaled(self, factor: float) -> Moments:
        """The moments with every row's weight multiplied by ``factor`` (forgetting)."""
        return Moments(self.weight * factor, self.mean, self.scatter * factor)

    def reduced(self, sum_over) -> Moments:
        """The moments of these rows and those of the other parts that ``sum_over`` adds.

        ``sum_over(array)`` returns the sum of ``array`` over all parts (an
        all-reduce over ranks, say). Two sums: the weights and weighted means
        first, then each part's scatter about the common mean, which is exact
        and needs no part to send its rows.
        """
        nx = backend_of(self.mean)
        weight = nx.full((1,), self.weight, type_as=self.mean)
        head = sum_over(nx.concatenate([weight, self.weight * self.mean]))
        weight = float(head[0])
        if weight == 0:
            return self
        mean = head[1:] / weight
        delta = self.mean - mean
        spread = delta * delta if self.diagonal else nx.outer(delta, delta)
        return Moments(weight, mean, sum_over(self.scatter + self.weight * spread))

    @property
    def cov(self):
        """Biased weighted covariance (symmetrised), or the variances when ``diagonal``."""
        cov = self.scatter / self.weight
        return cov if self.diagonal else (cov + cov.T) / 2

    @property
    def variances(self):
        """Per-feature variances."""
        if self.diagonal:
            return self.scatter / self.weight
        nx = backend_of(self.scatter)
        return nx.diag(self.scatter) / self.weight


def weighted_moments(X, sample_weight=None):
    """Weighted mean and covariance of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array, memmap or tensor of shape (n_samples, n_features)
    sample_weight : array or tensor of shape (n_samples,), default=None

    Returns
    -------
    mean : array or tensor of shape (n_features,), on the backend of X
    cov : array or tensor of shape (n_features, n_features)
        Biased (maximum-likelihood) covariance, ``sum_i w_i (x_i - mean)(x_i - mean)^T / sum_i w_i``.

    Examples
    --------
    >>> import numpy as np
    >>> mean, cov = weighted_moments(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> mean
    array([1., 1.])
    >>> cov
    array([[1., 0.],
           [0., 0.]])
    """
    moments = Moments.of(X, sample_weight)
    return moments.mean, moments.cov
