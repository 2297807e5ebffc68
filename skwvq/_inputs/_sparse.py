"""Sparse (CSR) input, never densified: its moments from sparse products, its host rows and quantized output as CSR."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.sparsefuncs import mean_variance_axis

from .._moments import Moments, check_covariance_size
from ..kernels import as_csr
from ._base import InMemoryRows


def sparse_moments(X, sample_weight=None, *, diagonal: bool = False) -> Moments:
    """The moments of CSR rows, from sparse products: ``X`` is never densified.

    The scatter is ``X^T W X - w m m^T``: the second moments of sparse rows
    are sparse products, where centring the rows would densify them; the
    per-feature variances are scikit-learn's ``mean_variance_axis``.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> moments = sparse_moments(sp.csr_matrix(np.array([[0.0, 1.0], [2.0, 1.0]])))
    >>> moments.mean, moments.cov
    (array([1., 1.]), array([[1., 0.],
           [0., 0.]]))
    """
    n_samples, n_features = X.shape
    w = np.ones(n_samples) if sample_weight is None else np.asarray(sample_weight)
    w = w.astype(np.float64, copy=False)
    weight = float(w.sum())
    if weight == 0:
        return Moments.empty(n_features, diagonal=diagonal)
    if not diagonal:
        check_covariance_size(n_features)
    X = sp.csr_matrix(X, dtype=np.float64)
    if diagonal:  # centred per feature by scikit-learn, without cancellation
        mean, variances = mean_variance_axis(X, 0, weights=w)
        return Moments(weight, mean, weight * variances)
    mean = np.asarray(X.T @ w).ravel() / weight
    second = (X.T @ X.multiply(w[:, None]).tocsr()).toarray()
    return Moments(weight, mean, second - weight * np.outer(mean, mean))


class SparseRows(InMemoryRows):
    """Validated CSR rows, in canonical form, on the numpy backend.

    Parameters
    ----------
    X : sparse matrix of shape (n_samples, n_features), float32 or float64
    nx : NumpyBackend
    wrap : callable, default=None
        How results go back to the caller; numpy arrays and CSR matrices if None.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> from skwvq.backends import backend_of
    >>> rows = SparseRows(sp.csr_matrix(np.array([[0.0, 1.0], [0.0, 0.0]])), backend_of())
    >>> rows.entries_per_row
    1.0
    """

    sparse = True

    def __init__(self, X, nx, wrap=None):
        X = as_csr(X)
        super().__init__(X, nx, dtype=X.dtype, wrap=wrap)

    def moments(self, *, diagonal: bool = False) -> Moments:
        return sparse_moments(self.data, self.sample_weight, diagonal=diagonal)

    def host_rows(self, index):
        return sp.csr_matrix(self.data[index], dtype=np.float64)

    def init_input(self):
        return self.data

    def on_host(self) -> SparseRows:
        return self

    def quantized(self, codebook, labels):
        # Sparse in, sparse out: the codes' zeros stay implicit.
        return self.wrap(sp.csr_matrix(codebook)[labels])
