"""Initial codebooks: random data rows, k-means++, draws from the data's Gaussian fit, or a given array."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import kmeans_plusplus

from ._tensors import numpy_dtype
from .alignment import sqrtm_psd, weighted_moments
from .backends import host_rows, to_host

INITS = ("random", "k-means++", "gaussian")


def initial_codebook(X, n_codes, init, sample_weight, rng) -> np.ndarray:
    """Draw or check the starting codebook, in the dtype of ``X``.

    Parameters
    ----------
    X : ndarray or tensor of shape (n_samples, n_features)
        Tensors stay on their device; only the drawn rows come to the host
        (``"k-means++"`` copies X to the host, as it runs on the CPU).
    n_codes : int
    init : {"random", "k-means++", "gaussian"} or ndarray of shape (n_codes, n_features)
        ``"random"``: distinct rows of ``X``, drawn with probability proportional to
        ``sample_weight`` (as ``KMeans``). ``"k-means++"``: sklearn's
        ``kmeans_plusplus``. ``"gaussian"``: draws from the Gaussian fit of ``X``.
        An array is used as given (already validated by the estimator).
    sample_weight : ndarray of shape (n_samples,)
    rng : numpy.random.RandomState

    Returns
    -------
    ndarray of shape (n_codes, n_features)
        On the host, in X's dtype (float32 for half-precision tensors).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(20.0).reshape(10, 2)
    >>> initial_codebook(X, 3, "random", np.ones(10), np.random.RandomState(0)).shape
    (3, 2)
    """
    dtype = numpy_dtype(X)
    if isinstance(init, str) and init == "random":
        p = sample_weight / sample_weight.sum()
        index = rng.choice(X.shape[0], size=n_codes, replace=False, p=p)
        return host_rows(X, np.sort(index)).astype(dtype)
    if isinstance(init, str) and init == "k-means++":
        centers, _ = kmeans_plusplus(
            to_host(X), n_codes, sample_weight=sample_weight, random_state=rng
        )
        return centers.astype(dtype, copy=False)
    if isinstance(init, str) and init == "gaussian":
        mean, cov = (to_host(m) for m in weighted_moments(X, sample_weight))
        draws = rng.standard_normal((n_codes, X.shape[1])) @ sqrtm_psd(cov)
        return (mean + draws).astype(dtype)
    return np.array(init, dtype=dtype, copy=True)
