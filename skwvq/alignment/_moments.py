"""Weighted moments of data and codebooks, symmetric PSD square roots, and the Gaussian W2."""

from __future__ import annotations

from ..backends import CHUNK_ROWS, backend_of, slices


def _float64_weights(X, sample_weight):
    """The backend of X and its weights in float64 (ones if None)."""
    nx = backend_of(X, sample_weight)
    if sample_weight is None:
        return nx, nx.ones(X.shape[0], type_as=nx.float64(X[:1]))
    return nx, nx.float64(sample_weight)


def weighted_mean(X, sample_weight=None):
    """Weighted mean of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
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
    chunks = slices(X.shape[0], CHUNK_ROWS)
    return sum(w[rows] @ nx.float64(X[rows]) for rows in chunks) / nx.sum(w)


def weighted_moments(X, sample_weight=None):
    """Weighted mean and covariance of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
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
    nx, w = _float64_weights(X, sample_weight)
    mean = weighted_mean(X, w)
    cov = 0.0
    for rows in slices(X.shape[0], CHUNK_ROWS):
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
    nx, w = _float64_weights(X, sample_weight)
    mean = weighted_mean(X, w)
    spread = sum(
        float(nx.sum(w[rows] * nx.sum((nx.float64(X[rows]) - mean) ** 2, axis=1)))
        for rows in slices(X.shape[0], CHUNK_ROWS)
    )
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
