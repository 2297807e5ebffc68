"""Weighted moments of data and codebooks, symmetric PSD square roots, and the Gaussian W2."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils.sparsefuncs import mean_variance_axis

from ..backends import backend_of, slices

# A covariance matrix is refused past this many entries (2 GiB in float64):
# Gaussian alignment takes eigendecompositions of d x d matrices every
# iteration, which at that size take minutes each.
MAX_COVARIANCE_ENTRIES = 1 << 28


def _float64_weights(X, sample_weight):
    """The backend of X and its weights in float64 (ones if None)."""
    nx = backend_of(X, sample_weight)
    if sample_weight is None:
        if sp.issparse(X):
            return nx, np.ones(X.shape[0])
        return nx, nx.ones(X.shape[0], type_as=nx.float64(X[:1]))
    return nx, nx.float64(sample_weight)


def check_covariance_size(n_features: int) -> None:
    """Refuse a covariance too large to hold and decompose, naming the way out."""
    if n_features * n_features > MAX_COVARIANCE_ENTRIES:
        raise ValueError(
            f"alignment='gaussian' and init='gaussian' need the {n_features} x "
            f"{n_features} covariance of the data ({n_features**2 * 8 / 2**30:.0f} "
            "GiB, an eigendecomposition per iteration); use alignment='sliced' "
            "and init='auto', which scale to any number of features."
        )


def weighted_mean(X, sample_weight=None):
    """Weighted mean of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array, sparse matrix or tensor of shape (n_samples, n_features)
    sample_weight : array or tensor of shape (n_samples,), default=None

    Returns
    -------
    array or tensor of shape (n_features,), on the backend of X

    Examples
    --------
    >>> import numpy as np
    >>> weighted_mean(np.array([[0.0], [4.0]]), np.array([3.0, 1.0]))
    array([1.])
    """
    nx, w = _float64_weights(X, sample_weight)
    if sp.issparse(X):
        return np.asarray(X.T @ w, dtype=np.float64).ravel() / w.sum()
    chunks = slices(X.shape[0], nx.moment_rows(X.shape[1]))
    return sum(w[rows] @ nx.float64(X[rows]) for rows in chunks) / nx.sum(w)


def weighted_moments(X, sample_weight=None):
    """Weighted mean and covariance of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array, sparse matrix or tensor of shape (n_samples, n_features)
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
    if hasattr(X, "moments"):  # a Dask fit's rows: from their first pass
        return X.weighted_moments()
    check_covariance_size(X.shape[1])
    nx, w = _float64_weights(X, sample_weight)
    mean = weighted_mean(X, w)
    if sp.issparse(X):
        second = (X.T @ X.multiply(w[:, None]).tocsr()).toarray() / w.sum()
        cov = second - np.outer(mean, mean)
        return mean, (cov + cov.T) / 2
    cov = 0.0
    for rows in slices(X.shape[0], nx.moment_rows(X.shape[1])):
        centred = nx.float64(X[rows]) - mean
        cov = cov + centred.T @ (centred * w[rows, None])
    cov = cov / nx.sum(w)
    return mean, (cov + cov.T) / 2


def mean_feature_variance(X, sample_weight) -> float:
    """Weighted variance averaged over features: the scale that ``tol`` is relative to.

    Examples
    --------
    >>> import numpy as np
    >>> mean_feature_variance(np.array([[0.0, 0.0], [2.0, 4.0]]), np.ones(2))
    2.5
    """
    if hasattr(X, "moments"):  # a Dask fit's rows: from their first pass
        return X.mean_feature_variance()
    nx, w = _float64_weights(X, sample_weight)
    if sp.issparse(X):
        variances = mean_variance_axis(
            sp.csr_matrix(X, dtype=np.float64), 0, weights=w
        )[1]
        return float(variances.mean())
    mean = weighted_mean(X, w)
    spread = 0.0
    for rows in slices(X.shape[0], nx.moment_rows(X.shape[1])):
        centred = nx.float64(X[rows]) - mean
        spread += float(nx.sum(w[rows] * nx.einsum("ij,ij->i", centred, centred)))
    return spread / float(nx.sum(w)) / X.shape[1]


def _sqrt_and_inv_sqrt_psd(S, floor: float):
    """Square root of a symmetric PSD matrix and the inverse root with eigenvalues floored.

    Negative eigenvalues from rounding are clipped to zero (POT's ``sqrtm`` takes
    their square root and returns NaN, hence this helper).
    """
    nx = backend_of(S)
    eigval, eigvec = nx.eigh(S)
    root = nx.sqrt(nx.clip(eigval, 0.0, None))
    inv_root = 1.0 / nx.sqrt(nx.clip(eigval, floor, None))
    return (eigvec * root) @ eigvec.T, (eigvec * inv_root) @ eigvec.T


def sqrtm_psd(S):
    """Square root of a symmetric PSD matrix (negative rounding eigenvalues clipped).

    Examples
    --------
    >>> import numpy as np
    >>> sqrtm_psd(np.diag([4.0, 9.0]))
    array([[2., 0.],
           [0., 3.]])
    """
    return _sqrt_and_inv_sqrt_psd(S, 1.0)[0]


def gaussian_w2(mean_a, cov_a, mean_b, cov_b) -> float:
    """Squared 2-Wasserstein distance between two Gaussians, in the symmetric form.

    ``||m_a - m_b||^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2})``, with the
    square roots taken by ``eigh`` of symmetric matrices, so that rank-deficient
    covariances give a finite answer.

    Examples
    --------
    >>> import numpy as np
    >>> gaussian_w2(np.zeros(2), np.eye(2), np.array([3.0, 4.0]), np.eye(2))
    25.0
    """
    nx = backend_of(cov_a, cov_b)
    root_a = sqrtm_psd(cov_a)
    cross = sqrtm_psd(root_a @ cov_b @ root_a)
    bures = float(nx.trace(cov_a) + nx.trace(cov_b) - 2 * nx.trace(cross))
    return float(nx.sum((mean_a - mean_b) ** 2)) + max(bures, 0.0)
