"""Initial codebooks: greedy k-means++ (on a bounded subsample by default), random rows, Gaussian draws, or a given array."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils import check_array

from .alignment import sqrtm_psd
from .backends import backend_of, dense, to_host
from .kernels import greedy_kmeanspp

INITS = ("auto", "random", "k-means++", "gaussian")

# Seeding ("auto" and the re-seeding of unused codes) runs k-means++ on at most this many row x code x feature x trial
# products (and on at least 2 rows per code). The kernel runs about 1.3e10 of
# them a second on 2 AMD EPYC cores, so the bound is ~1.5 s: at N = 200,000,
# d = 64, K = 4096 (8,192 rows) that is ~5% of a default fit, and below it
# (digits, images at K <= 1024, N/K <= 8) the whole data set is used.
SEEDING_PRODUCTS = 2e10


def kmeans_plusplus_rows(
    X, n_codes: int, sample_weight, rng, closest=None
) -> np.ndarray:
    """Greedy k-means++ on the rows of ``X``: the indices of the chosen rows.

    The algorithm of sklearn's ``kmeans_plusplus`` (the first centre drawn with
    probability proportional to the weights, each next one the best, by
    potential, of ``2 + log K`` candidates drawn proportionally to ``w D^2``),
    in one compiled loop: sklearn's pays numpy's per-call overhead at each of
    the ``K`` steps, measured 6x slower at 20,480 rows, d = 64, K = 4096.

    With ``closest``, the seeding continues from centres already placed (the
    squared distance of each row to the nearest of them): new centres go where
    the existing ones serve the data worst. That is how the solver re-seeds
    unused codes. Fewer than ``n_codes`` rows come back when every row of
    positive weight already sits on a centre (fewer distinct rows than codes).

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features), float32 or float64
        Sparse rows are read as CSR, never densified.
    n_codes : int
    sample_weight : ndarray of shape (n_samples,)
    rng : numpy.random.RandomState
    closest : ndarray of shape (n_samples,), float64, default=None
        Squared distance of each row to the nearest existing centre; None
        starts from no centre.

    Returns
    -------
    ndarray of shape (at most n_codes,), int64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0], [0.1], [10.0], [10.1]])
    >>> rows = kmeans_plusplus_rows(X, 2, np.ones(4), np.random.RandomState(0))
    >>> np.sort(X[rows, 0]).round()  # one centre in each group
    array([ 0., 10.])
    >>> closest = (X[:, 0] - 0.0) ** 2  # a centre already stands at 0
    >>> X[kmeans_plusplus_rows(X, 1, np.ones(4), np.random.RandomState(0), closest)].round()
    array([[10.]])
    """
    weights = np.asarray(sample_weight, dtype=np.float64)
    n_trials = 2 + int(math.log(max(n_codes, 1)))
    rows = backend_of().seeding_rows(X, n_trials)
    first = np.empty(0, dtype=np.int64)
    if closest is None:
        first = np.array([rng.choice(X.shape[0], p=weights / weights.sum())])
        closest = np.full(X.shape[0], np.inf)
        rows.lower_closest(closest, first[0])
        n_codes -= 1
    else:
        closest = np.array(closest, dtype=np.float64)  # lowered in place
    uniforms = rng.random_sample((n_codes, n_trials))
    return np.concatenate([first, greedy_kmeanspp(rows, weights, closest, uniforms)])


def seeding_sample_size(n_samples: int, n_codes: int, n_features: float) -> int:
    """Rows that k-means++ seeding of ``n_codes`` codes runs on: a bounded cost, all rows when it allows.

    Used by ``init="auto"`` and by the solver's re-seeding of unused codes.
    ``n_features`` is the cost of one distance (``entries_per_row``: the stored
    entries per row for sparse data).

    Examples
    --------
    >>> seeding_sample_size(1797, 256, 64), seeding_sample_size(200_000, 4096, 64)
    (1797, 8192)
    """
    n_trials = 2 + int(math.log(n_codes))
    affordable = int(SEEDING_PRODUCTS / (n_codes * n_features * n_trials))
    return min(n_samples, max(2 * n_codes, affordable))


def initial_codebook(rows, n_codes, init, rng) -> np.ndarray:
    """Draw or check the starting codebook, in the dtype of the rows.

    Parameters
    ----------
    rows : skwvq._inputs.Rows
        The data, with their ``sample_weight``. Only the drawn rows come to the
        host (k-means++ runs on the CPU, on the rows it considers).
    n_codes : int
    init : {"auto", "random", "k-means++", "gaussian"}, callable or ndarray of shape (n_codes, n_features)
        ``"auto"``: greedy k-means++ on a uniform subsample of the rows
        (``seeding_sample_size``; all rows where that is cheap), the weights kept.
        ``"random"``: distinct rows, drawn with probability proportional to
        ``sample_weight`` (as ``KMeans``). ``"k-means++"``: greedy k-means++
        on all rows (``kmeans_plusplus_rows``). ``"gaussian"``: draws from the
        Gaussian fit of the rows. A callable is called as ``init(X, n_codes,
        rng)`` (``KMeans``'s signature, X as ``rows.init_input()`` gives it)
        and its result checked. An array is used as given (already validated
        by the estimator).
    rng : numpy.random.RandomState

    Returns
    -------
    ndarray of shape (n_codes, n_features)
        On the host, in the rows' dtype (float32 for half-precision tensors).

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq._inputs import as_rows
    >>> rows = as_rows(np.arange(20.0).reshape(10, 2))
    >>> initial_codebook(rows, 3, "random", np.random.RandomState(0)).shape
    (3, 2)
    """
    dtype = rows.dtype
    n_samples, n_features = rows.shape
    sample_weight = rows.sample_weight
    if sample_weight is None:
        sample_weight = np.ones(n_samples)
    if isinstance(init, str) and init == "random":
        p = sample_weight / sample_weight.sum()
        index = rng.choice(n_samples, size=n_codes, replace=False, p=p)
        return dense(rows.host_rows(np.sort(index))).astype(dtype)
    if isinstance(init, str) and init in ("auto", "k-means++"):
        size = n_samples
        if init == "auto":
            size = seeding_sample_size(n_samples, n_codes, rows.entries_per_row)
        if size < n_samples:
            index = np.sort(rng.choice(n_samples, size=size, replace=False))
        else:
            index = np.arange(n_samples)
        drawn = rows.host_rows(index)
        drawn = drawn.astype(dtype if dtype == np.float32 else np.float64)
        weights = sample_weight[index]
        chosen = kmeans_plusplus_rows(drawn, n_codes, weights, rng)
        if chosen.size < n_codes:
            # Fewer distinct rows than codes: the rest repeat rows (as sklearn's
            # kmeans_plusplus does), and stay unused.
            extra = rng.choice(
                drawn.shape[0], n_codes - chosen.size, p=weights / weights.sum()
            )
            chosen = np.concatenate([chosen, extra])
        return dense(drawn[chosen]).astype(dtype)
    if isinstance(init, str) and init == "gaussian":
        moments = rows.moments()
        mean, cov = to_host(moments.mean), to_host(moments.cov)
        draws = rng.standard_normal((n_codes, n_features)) @ sqrtm_psd(cov)
        return (mean + draws).astype(dtype)
    if callable(init):
        init = init(rows.init_input(), n_codes, rng)
        return check_codebook(init, n_codes, n_features, dtype, "the callable init")
    return np.array(init, dtype=dtype, copy=True)


def check_codebook(codebook, n_codes: int, n_features: int, dtype, name="init"):
    """A user's codebook as a fresh finite array of shape ``(n_codes, n_features)`` in ``dtype``.

    Examples
    --------
    >>> check_codebook([[0.0, 1.0]], 1, 2, np.float32)
    array([[0., 1.]], dtype=float32)
    """
    codebook = check_array(to_host(codebook), dtype=dtype, input_name="init", copy=True)
    if codebook.shape != (n_codes, n_features):
        raise ValueError(
            f"{name} has shape {codebook.shape}; expected "
            f"(n_clusters, n_features) = ({n_codes}, {n_features})."
        )
    return codebook
