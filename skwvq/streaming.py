"""Streaming state for ``partial_fit``: a reservoir sample of the stream."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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
