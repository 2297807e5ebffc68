"""The numpy backend's assignment of sparse (CSR) rows: fused sparse-dense products, argmin and per-code sums in numba."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange
from sklearn.utils.extmath import row_norms

from ._common import Assignment

# Rows per parallel task: each task keeps one K-vector of products and reuses
# it row after row, so only the labels and distances are written.
_ROWS_PER_TASK = 256


def as_csr(X):
    """``X`` as a CSR matrix in canonical form (sorted indices, no duplicates), copied only if needed.

    Row norms and the kernels below read each row's entries once, so duplicate
    entries would be counted twice in a norm.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> X = sp.coo_matrix(([1.0, 2.0], ([0, 0], [1, 1])), shape=(1, 2))
    >>> as_csr(X).toarray()
    array([[0., 3.]])
    """
    X = sp.csr_matrix(X)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()
    return X


@njit(cache=True, parallel=True, nogil=True)
def _nearest_codes_csr(
    indptr, indices, data, codebook_T, code_sq_norms, x_sq_norms, labels, sq_distances
):
    # codebook_T is (n_features, n_codes): a row's products with every code are
    # a sum of its entries times contiguous rows of codebook_T (an axpy each,
    # which LLVM vectorises), so the n_rows x n_codes block is never formed.
    n_rows = indptr.shape[0] - 1
    n_codes = codebook_T.shape[1]
    for task in prange((n_rows + _ROWS_PER_TASK - 1) // _ROWS_PER_TASK):
        products = np.empty(n_codes, dtype=codebook_T.dtype)
        for i in range(task * _ROWS_PER_TASK, min((task + 1) * _ROWS_PER_TASK, n_rows)):
            products[:] = 0
            for p in range(indptr[i], indptr[i + 1]):
                value = data[p]
                row = codebook_T[indices[p]]
                for k in range(n_codes):
                    products[k] += value * row[k]
            best, best_value = 0, np.inf
            for k in range(n_codes):
                value = code_sq_norms[k] - 2 * products[k]
                if value < best_value:
                    best, best_value = k, value
            labels[i] = best
            sq_distances[i] = max(x_sq_norms[i] + best_value, 0.0)


@njit(cache=True, nogil=True)
def _accumulate_csr(indptr, indices, data, labels, sample_weight, counts, sums):
    # One serial pass in row order, as the dense kernel: sums that do not
    # depend on the thread count.
    for i in range(indptr.shape[0] - 1):
        k = labels[i]
        w = sample_weight[i]
        counts[k] += w
        for p in range(indptr[i], indptr[i + 1]):
            sums[k, indices[p]] += w * data[p]


def nearest_codes_sparse(X, codebook, *, x_sq_norms=None):
    """Labels and squared distances of the nearest codes of CSR rows.

    Memory is ``O(nnz + n_codes * n_features)``: ``X`` is never densified and
    the distance block never formed.

    Parameters
    ----------
    X : sparse matrix of shape (n_samples, n_features), float32 or float64
    codebook : ndarray of shape (n_codes, n_features), in X's dtype
    x_sq_norms : ndarray of shape (n_samples,), default=None

    Returns
    -------
    labels : ndarray of shape (n_samples,), int64
    sq_distances : ndarray of shape (n_samples,), dtype of X

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[0.0, 1.0], [4.0, 0.0]]))
    >>> nearest_codes_sparse(X, np.array([[0.0, 0.0], [4.0, 1.0]]))
    (array([0, 1]), array([1., 1.]))
    """
    X = as_csr(X)
    dtype = X.dtype
    codebook = np.asarray(codebook, dtype=dtype)
    if x_sq_norms is None:
        x_sq_norms = row_norms(X, squared=True)
    labels = np.empty(X.shape[0], dtype=np.int64)
    sq_distances = np.empty(X.shape[0], dtype=dtype)
    _nearest_codes_csr(
        X.indptr,
        X.indices,
        X.data,
        np.ascontiguousarray(codebook.T),
        np.einsum("ij,ij->i", codebook, codebook),
        np.asarray(x_sq_norms, dtype=dtype),
        labels,
        sq_distances,
    )
    return labels, sq_distances


def code_sums_sparse(X, labels, sample_weight, n_codes: int):
    """Weighted count and float64 sum of the CSR rows assigned to each code (see ``skwvq.kernels.code_sums``).

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 3.0], [5.0, 0.0]]))
    >>> counts, sums = code_sums_sparse(X, np.array([0, 0, 1]), None, 2)
    >>> counts, sums
    (array([2., 1.]), array([[1., 3.],
           [5., 0.]]))
    """
    X = as_csr(X)
    if sample_weight is None:
        sample_weight = np.ones(X.shape[0], dtype=X.dtype)
    counts = np.zeros(n_codes, dtype=np.float64)
    sums = np.zeros((n_codes, X.shape[1]), dtype=np.float64)
    _accumulate_csr(X.indptr, X.indices, X.data, labels, sample_weight, counts, sums)
    return counts, sums


def assign_sparse(X, codebook, *, sample_weight=None, x_sq_norms=None) -> Assignment:
    """Nearest codes and per-code statistics of CSR rows; the sparse twin of ``skwvq.kernels.assign``.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> X = sp.csr_matrix(np.array([[0.0, 1.0], [4.0, 0.0], [5.0, 0.0]]))
    >>> assign_sparse(X, np.array([[0.0, 0.0], [4.0, 0.0]])).counts
    array([1., 2.])
    """
    labels, sq_distances = nearest_codes_sparse(X, codebook, x_sq_norms=x_sq_norms)
    counts, sums = code_sums_sparse(X, labels, sample_weight, codebook.shape[0])
    return Assignment(labels, sq_distances, counts, sums)
