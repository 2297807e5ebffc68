"""Streaming state for ``partial_fit``: running data moments and a reservoir sample of the stream."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .alignment._moments import check_covariance_size


class RunningMoments:
    """Weighted mean and covariance of a stream, merged batch by batch (Chan et al.).

    Moments of separate batches merge exactly (``merge``), so they also reduce
    over the blocks of a Dask array in any tree. With ``diagonal=True`` only
    the per-feature variances are kept (``d`` numbers instead of ``d^2``): all
    that the fit's tolerance needs.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> moments = RunningMoments(2)
    >>> for batch in np.array_split(X, 7):
    ...     moments.add(batch, np.ones(len(batch)))
    >>> bool(np.allclose(moments.cov, np.cov(X.T, bias=True)))
    True
    """

    def __init__(self, n_features: int, *, diagonal: bool = False):
        if not diagonal:
            check_covariance_size(n_features)
        self.diagonal = diagonal
        self.total_weight = 0.0
        self.mean = np.zeros(n_features)
        self.scatter = np.zeros(n_features if diagonal else (n_features, n_features))

    @classmethod
    def of(cls, X, sample_weight, *, diagonal: bool = False) -> RunningMoments:
        """The moments of one batch (zero weight: empty moments)."""
        moments = cls(X.shape[1], diagonal=diagonal)
        w = np.asarray(sample_weight, dtype=np.float64)
        weight = float(w.sum())
        if weight == 0:
            return moments
        if sp.issparse(X):
            X = sp.csr_matrix(X, dtype=np.float64)
            mean = np.asarray(X.T @ w).ravel() / weight
            if diagonal:
                second = np.asarray(X.multiply(X).T @ w).ravel()
                scatter = second - weight * mean**2
            else:
                second = (X.T @ X.multiply(w[:, None]).tocsr()).toarray()
                scatter = second - weight * np.outer(mean, mean)
        else:
            X = np.asarray(X, dtype=np.float64)
            mean = (w @ X) / weight
            centred = X - mean
            if diagonal:
                scatter = w @ (centred * centred)
            else:
                scatter = centred.T @ (centred * w[:, None])
        moments.total_weight, moments.mean, moments.scatter = weight, mean, scatter
        return moments

    def add(self, X, sample_weight) -> None:
        """Merge a weighted batch into the running moments."""
        self.merge(self.of(X, sample_weight, diagonal=self.diagonal))

    def merge(self, other: RunningMoments) -> RunningMoments:
        """Merge another set of moments (of other rows) into these; return self."""
        if other.total_weight == 0:
            return self
        total = self.total_weight + other.total_weight
        delta = other.mean - self.mean
        spread = np.outer(delta, delta) if not self.diagonal else delta * delta
        self.scatter = (
            self.scatter
            + other.scatter
            + spread * (self.total_weight * other.total_weight / total)
        )
        self.mean = self.mean + delta * (other.total_weight / total)
        self.total_weight = total
        return self

    @property
    def cov(self) -> np.ndarray:
        """Biased weighted covariance of everything added so far (its diagonal if ``diagonal``)."""
        return self.scatter / self.total_weight


class Reservoir:
    """A uniform sample without replacement of at most ``capacity`` rows of a stream.

    Every row gets a uniform random key; the rows with the smallest keys are
    kept, so after any number of batches the reservoir is a uniform draw of the
    rows seen (their weights are kept as OT masses, as ``ot_sample`` does).
    Sparse batches are kept as CSR rows.

    Examples
    --------
    >>> import numpy as np
    >>> reservoir = Reservoir(capacity=5, n_features=1)
    >>> rng = np.random.RandomState(0)
    >>> for start in range(0, 100, 10):
    ...     batch = np.arange(start, start + 10.0)[:, None]
    ...     reservoir.add(batch, np.ones(10), rng)
    >>> sample, masses = reservoir.sample()
    >>> sample.shape, float(masses.sum())
    ((5, 1), 1.0)
    """

    def __init__(self, capacity: int, n_features: int):
        self.capacity = capacity
        self.rows = np.empty((0, n_features))
        self.weights = np.empty(0)
        self.keys = np.empty(0)
        self.n_seen = 0

    def add(self, X, sample_weight, rng) -> None:
        """Offer a batch to the reservoir (rows of zero weight are not kept)."""
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        draws = rng.random_sample(X.shape[0])
        positive = sample_weight > 0
        keys = np.concatenate([self.keys, draws[positive]])
        if sp.issparse(X) or sp.issparse(self.rows):
            offered = sp.csr_matrix(X[positive], dtype=np.float64)
            rows = sp.vstack([sp.csr_matrix(self.rows), offered], format="csr")
        else:
            rows = np.concatenate(
                [self.rows, np.asarray(X[positive], dtype=np.float64)]
            )
        weights = np.concatenate([self.weights, sample_weight[positive]])
        keep = np.argsort(keys, kind="stable")[: self.capacity]
        self.keys, self.rows, self.weights = keys[keep], rows[keep], weights[keep]
        self.n_seen += X.shape[0]

    def sample(self):
        """The reservoir's rows and their masses (summing to one)."""
        return self.rows, self.weights / self.weights.sum()
