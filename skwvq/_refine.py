"""Joint refinement of residual codebooks: the least-squares codebooks of all levels at once, given the codes."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from .backends import backend_of

# Up to this many codes over all levels the normal equations are solved at once
# (a dense Cholesky of 4096 x 4096 takes about a second on two cores); past it,
# by sweeps of level-wise updates, each exact given the other levels.
_DENSE_MAX_CODES = 4096
_SWEEPS = 8
# Ridge towards the current codes, in rows' worth of weight: it fixes the codes
# no row uses (their least-squares value is undetermined) and leaves the others
# as the data place them.
_RIDGE_ROWS = 1e-3


def refine_codebooks(X, codes, codebooks, sample_weight=None) -> np.ndarray:
    """The codebooks minimising the squared reconstruction error of X given its codes.

    Solves ``min_C sum_i w_i |x_i - sum_m C_m[codes_im]|^2`` over all levels
    jointly (the one-hot design of all levels' codes, as faiss's residual
    quantizer refines its codebooks), with a small ridge towards the current
    codes so that an unused code stays where it is.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    codes : ndarray of shape (n_samples, n_codebooks), int
    codebooks : ndarray of shape (n_codebooks, n_codes, n_features)
    sample_weight : ndarray of shape (n_samples,), default=None

    Returns
    -------
    ndarray of shape (n_codebooks, n_codes, n_features), float64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0], [3.0], [11.0], [13.0]])
    >>> codes = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> start = np.array([[[0.0], [10.0]], [[0.0], [1.0]]])
    >>> refined = refine_codebooks(X, codes, start)
    >>> np.round(refined[0][:, 0, None] + refined[1][:, 0], 2)  # code of level 1 by row
    array([[ 1.,  3.],
           [11., 13.]])
    """
    X = np.asarray(X, dtype=np.float64)
    codebooks = np.asarray(codebooks, dtype=np.float64)
    n_levels, n_codes, n_features = codebooks.shape
    weights = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight)
    ridge = _RIDGE_ROWS * max(weights.sum(), 1e-300) / max(len(X), 1)
    nx = backend_of()
    counts, sums = zip(
        *(nx.code_sums(X, codes[:, m], weights, n_codes) for m in range(n_levels))
    )
    if n_levels * n_codes <= _DENSE_MAX_CODES:
        return _solve_dense(codes, codebooks, weights, counts, sums, ridge)
    return _sweep(X, codes, codebooks, weights, counts, sums, ridge)


def _solve_dense(codes, codebooks, weights, counts, sums, ridge):
    n_levels, n_codes, n_features = codebooks.shape
    size = n_levels * n_codes
    gram = np.zeros((size, size))
    for j in range(n_levels):
        gram[j * n_codes : (j + 1) * n_codes, j * n_codes : (j + 1) * n_codes] = (
            np.diag(counts[j])
        )
        for m in range(j + 1, n_levels):
            pairs = np.bincount(
                codes[:, j] * n_codes + codes[:, m],
                weights=weights,
                minlength=n_codes * n_codes,
            ).reshape(n_codes, n_codes)
            gram[j * n_codes : (j + 1) * n_codes, m * n_codes : (m + 1) * n_codes] = (
                pairs
            )
            gram[m * n_codes : (m + 1) * n_codes, j * n_codes : (j + 1) * n_codes] = (
                pairs.T
            )
    current = codebooks.reshape(size, n_features)
    gram[np.diag_indices(size)] += ridge
    right = np.concatenate(sums) + ridge * current
    solved = scipy.linalg.solve(gram, right, assume_a="pos", check_finite=False)
    return solved.reshape(n_levels, n_codes, n_features)


def _sweep(X, codes, codebooks, weights, counts, sums, ridge):
    n_levels, n_codes, _ = codebooks.shape
    codebooks = codebooks.copy()
    nx = backend_of()
    reconstruction = sum(codebooks[m][codes[:, m]] for m in range(n_levels))
    for _ in range(_SWEEPS):
        for m in range(n_levels):
            reconstruction -= codebooks[m][codes[:, m]]
            _, explained = nx.code_sums(reconstruction, codes[:, m], weights, n_codes)
            updated = (sums[m] - explained + ridge * codebooks[m]) / (
                counts[m][:, None] + ridge
            )
            codebooks[m] = updated
            reconstruction += codebooks[m][codes[:, m]]
    return codebooks
