"""Initial codebooks: greedy k-means++ (on a bounded subsample by default), random rows, Gaussian draws, or a given array."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import scipy.sparse as sp
from numba import carray, njit, prange
from sklearn.utils import check_array

from ._tensors import numpy_dtype
from .alignment import sqrtm_psd, weighted_moments
from .assignment_fused import LANES, stack_empty
from .assignment_sparse import as_csr
from .backends import dense, host_rows, to_host

INITS = ("auto", "random", "k-means++", "gaussian")

# Seeding ("auto" and the re-seeding of unused codes) runs k-means++ on at most this many row x code x feature x trial
# products (and on at least 2 rows per code). The kernel runs about 1.3e10 of
# them a second on 2 AMD EPYC cores, so the bound is ~1.5 s: at N = 200,000,
# d = 64, K = 4096 (8,192 rows) that is ~5% of a default fit, and below it
# (digits, images at K <= 1024, N/K <= 8) the whole data set is used.
SEEDING_PRODUCTS = 2e10
# Rows per block of the kernel's potential sums: a fixed blocking makes the
# sums, and so the chosen rows, the same whatever the number of threads.
_ROW_BLOCK = 256
# Reassociation lets LLVM vectorise the distance loops; no-NaN/no-inf flags are
# left out, as the distances to "no centre yet" start at infinity.
_FASTMATH = {"reassoc", "contract", "arcp", "nsz"}
# Up to this many features the potentials run on rows laid out in lanes, as the
# fused assignment kernel: at 16,384 rows and 9 trials (2 AMD EPYC cores) 1.6-2.4x
# faster than the row-by-row loop at d = 2-8, 1.0-1.4x at d = 16, 0.9x at d = 32.
LANE_POTENTIALS_MAX_FEATURES = 16


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _trial_potentials(X, weights, closest, candidates, partial):
    # partial[t, b]: potential of block b of rows if candidate t joined the centres.
    n_rows, n_features = X.shape
    for b in prange((n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK):
        start, stop = b * _ROW_BLOCK, min((b + 1) * _ROW_BLOCK, n_rows)
        for t in range(candidates.shape[0]):
            c = candidates[t]
            potential = 0.0
            for i in range(start, stop):
                sq = X.dtype.type(0.0)
                for j in range(n_features):
                    diff = X[i, j] - X[c, j]
                    sq += diff * diff
                potential += weights[i] * min(np.float64(sq), closest[i])
            partial[t, b] = potential


@cache
def _lane_trial_potentials(n_features: int):
    """``_trial_potentials`` for one feature count (a constant, so its loops unroll).

    The rows of a block go ``LANES`` at a time into registers, transposed, and
    each candidate is compared with a whole lane group at once; row-by-row, LLVM
    vectorises only the few features of one row.
    """
    width = n_features
    group_size = width * LANES

    @njit(cache=True, parallel=True, fastmath=_FASTMATH)
    def trial_potentials(X, weights, closest, candidates, partial):
        n_rows = X.shape[0]
        for b in prange((n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK):
            start, stop = b * _ROW_BLOCK, min((b + 1) * _ROW_BLOCK, n_rows)
            rows_T = carray(stack_empty(group_size, X.dtype), (width, LANES))
            near = carray(stack_empty(LANES, np.float64), (LANES,))
            mass = carray(stack_empty(LANES, np.float64), (LANES,))
            for t in range(candidates.shape[0]):
                partial[t, b] = 0.0
            for first in range(start, stop, LANES):
                n_lane = min(LANES, stop - first)
                for r in range(LANES):
                    # A short last group repeats its last row, with no mass.
                    row = first + min(r, n_lane - 1)
                    for j in range(width):
                        rows_T[j, r] = X[row, j]
                    near[r] = closest[row]
                    mass[r] = weights[row] if r < n_lane else 0.0
                for t in range(candidates.shape[0]):
                    c = candidates[t]
                    potential = 0.0
                    for r in range(LANES):
                        sq = X.dtype.type(0.0)
                        for j in range(width):
                            diff = rows_T[j, r] - X[c, j]
                            sq += diff * diff
                        potential += mass[r] * min(np.float64(sq), near[r])
                    partial[t, b] += potential

    return trial_potentials


@njit(cache=True, parallel=True, fastmath=_FASTMATH)
def _lower_closest(X, closest, c):
    n_rows, n_features = X.shape
    for i in prange(n_rows):
        sq = X.dtype.type(0.0)
        for j in range(n_features):
            diff = X[i, j] - X[c, j]
            sq += diff * diff
        closest[i] = min(closest[i], np.float64(sq))


@njit(cache=True)
def _csr_sq_norms(indptr, data):
    # The same loop as the distances below, so that a row's distance to itself,
    # or to a duplicate, is exactly zero.
    n_rows = indptr.shape[0] - 1
    sq_norms = np.empty(n_rows)
    for i in range(n_rows):
        total = 0.0
        for p in range(indptr[i], indptr[i + 1]):
            total += np.float64(data[p]) * data[p]
        sq_norms[i] = total
    return sq_norms


@njit(cache=True)
def _csr_sq_distance(indptr, indices, data, sq_norms, i, c, dense_c):
    # ||x_i - x_c||^2 with x_c scattered into dense_c: the differences on the
    # entries of x_i, plus the part of ||x_c||^2 on entries that x_i lacks.
    on_row, shared = 0.0, 0.0
    for p in range(indptr[i], indptr[i + 1]):
        value = dense_c[indices[p]]
        diff = data[p] - value
        on_row += diff * diff
        shared += value * value
    return on_row + max(sq_norms[c] - shared, 0.0)


@njit(cache=True)
def _scatter(indptr, indices, data, c, dense, value_or_zero):
    for p in range(indptr[c], indptr[c + 1]):
        dense[indices[p]] = data[p] if value_or_zero else 0.0


@njit(cache=True, parallel=True)
def _trial_potentials_csr(
    indptr, indices, data, sq_norms, weights, closest, candidates, scratch, partial
):
    # As _trial_potentials, for CSR rows; scratch (n_trials, n_features) is zero
    # on entry and on exit: the candidates are scattered in and cleared after.
    n_rows = indptr.shape[0] - 1
    for t in range(candidates.shape[0]):
        _scatter(indptr, indices, data, candidates[t], scratch[t], True)
    for b in prange((n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK):
        start, stop = b * _ROW_BLOCK, min((b + 1) * _ROW_BLOCK, n_rows)
        for t in range(candidates.shape[0]):
            c = candidates[t]
            potential = 0.0
            for i in range(start, stop):
                sq = _csr_sq_distance(indptr, indices, data, sq_norms, i, c, scratch[t])
                potential += weights[i] * min(sq, closest[i])
            partial[t, b] = potential
    for t in range(candidates.shape[0]):
        _scatter(indptr, indices, data, candidates[t], scratch[t], False)


@njit(cache=True, parallel=True)
def _lower_closest_csr(indptr, indices, data, sq_norms, closest, c, scratch_row):
    _scatter(indptr, indices, data, c, scratch_row, True)
    for i in prange(indptr.shape[0] - 1):
        sq = _csr_sq_distance(indptr, indices, data, sq_norms, i, c, scratch_row)
        closest[i] = min(closest[i], sq)
    _scatter(indptr, indices, data, c, scratch_row, False)


@njit(cache=True)
def _draw_candidates(weights, closest, uniforms, cumulative, candidates) -> bool:
    # Candidates drawn with probability w D^2 (``closest`` holds D^2); False
    # once every row of positive weight sits on a centre.
    n_rows = weights.shape[0]
    total = 0.0
    for i in range(n_rows):
        total += weights[i] * closest[i]
        cumulative[i] = total
    if not total > 0.0:
        return False
    for t in range(uniforms.shape[0]):
        at = np.searchsorted(cumulative, uniforms[t] * total, side="right")
        candidates[t] = min(at, n_rows - 1)
    return True


@njit(cache=True)
def _lowest_potential(partial) -> int:
    best, best_potential = 0, np.inf
    for t in range(partial.shape[0]):
        potential = partial[t].sum()
        if potential < best_potential:
            best, best_potential = t, potential
    return best


class _DenseRows:
    """The two distance kernels of greedy k-means++ on dense rows."""

    def __init__(self, X):
        self.X = np.ascontiguousarray(X)
        n_features = self.X.shape[1]
        self.trial_potentials = (
            _lane_trial_potentials(n_features)
            if n_features <= LANE_POTENTIALS_MAX_FEATURES
            else _trial_potentials
        )

    def potentials(self, weights, closest, candidates, partial):
        self.trial_potentials(self.X, weights, closest, candidates, partial)

    def lower_closest(self, closest, c):
        _lower_closest(self.X, closest, c)


class _SparseRows:
    """The two distance kernels of greedy k-means++ on CSR rows (X never densified)."""

    def __init__(self, X, n_trials):
        X = as_csr(X)
        self.csr = (X.indptr, X.indices, X.data)
        self.sq_norms = _csr_sq_norms(X.indptr, X.data)
        self.scratch = np.zeros((n_trials, X.shape[1]))

    def potentials(self, weights, closest, candidates, partial):
        _trial_potentials_csr(
            *self.csr,
            self.sq_norms,
            weights,
            closest,
            candidates,
            self.scratch,
            partial,
        )

    def lower_closest(self, closest, c):
        _lower_closest_csr(*self.csr, self.sq_norms, closest, c, self.scratch[0])


def _greedy_kmeanspp(rows, weights, closest, uniforms):
    # Row indices of the next centres: each the best, by potential, of
    # uniforms.shape[1] candidates drawn with probability w D^2, where D is the
    # distance to the nearest centre so far (``closest`` holds D^2 and is
    # lowered in place). Stops early once every row of positive weight sits on
    # a centre: no row is left that a new centre would serve. Each step is four
    # compiled calls; the Python loop around them costs microseconds a step.
    n_rows = weights.shape[0]
    n_codes, n_trials = uniforms.shape
    chosen = np.empty(n_codes, dtype=np.int64)
    cumulative = np.empty(n_rows)
    candidates = np.empty(n_trials, dtype=np.int64)
    partial = np.empty((n_trials, (n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK))
    for k in range(n_codes):
        if not _draw_candidates(weights, closest, uniforms[k], cumulative, candidates):
            return chosen[:k]
        rows.potentials(weights, closest, candidates, partial)
        chosen[k] = candidates[_lowest_potential(partial)]
        rows.lower_closest(closest, chosen[k])
    return chosen


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
    rows = _SparseRows(X, n_trials) if sp.issparse(X) else _DenseRows(X)
    first = np.empty(0, dtype=np.int64)
    if closest is None:
        first = np.array([rng.choice(X.shape[0], p=weights / weights.sum())])
        closest = np.full(X.shape[0], np.inf)
        rows.lower_closest(closest, first[0])
        n_codes -= 1
    else:
        closest = np.array(closest, dtype=np.float64)  # lowered in place
    uniforms = rng.random_sample((n_codes, n_trials))
    return np.concatenate([first, _greedy_kmeanspp(rows, weights, closest, uniforms)])


def entries_per_row(X) -> float:
    """Entries that one distance to a row of ``X`` reads: its features, or its mean stored entries if sparse.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> entries_per_row(sp.eye(4, 1000, format="csr"))
    1.0
    """
    if sp.issparse(X):
        return max(1.0, X.nnz / max(1, X.shape[0]))
    return float(X.shape[1])


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


def initial_codebook(X, n_codes, init, sample_weight, rng) -> np.ndarray:
    """Draw or check the starting codebook, in the dtype of ``X``.

    Parameters
    ----------
    X : ndarray or tensor of shape (n_samples, n_features)
        Tensors stay on their device; only the drawn rows come to the host
        (k-means++ runs on the CPU, on the rows it considers).
    n_codes : int
    init : {"auto", "random", "k-means++", "gaussian"}, callable or ndarray of shape (n_codes, n_features)
        ``"auto"``: greedy k-means++ on a uniform subsample of the rows
        (``seeding_sample_size``; all rows where that is cheap), the weights kept.
        ``"random"``: distinct rows of ``X``, drawn with probability proportional
        to ``sample_weight`` (as ``KMeans``). ``"k-means++"``: greedy k-means++
        on all rows (``kmeans_plusplus_rows``). ``"gaussian"``: draws from the
        Gaussian fit of ``X``. A callable is called as ``init(X, n_codes, rng)``
        (``KMeans``'s signature, X on the host) and its result checked. An
        array is used as given (already validated by the estimator).
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
        return dense(host_rows(X, np.sort(index))).astype(dtype)
    if isinstance(init, str) and init in ("auto", "k-means++"):
        n_samples = X.shape[0]
        size = n_samples
        if init == "auto":
            size = seeding_sample_size(n_samples, n_codes, entries_per_row(X))
        if size < n_samples:
            index = np.sort(rng.choice(n_samples, size=size, replace=False))
        else:
            index = np.arange(n_samples)
        rows = host_rows(X, index).astype(dtype if dtype == np.float32 else np.float64)
        weights = sample_weight[index]
        chosen = kmeans_plusplus_rows(rows, n_codes, weights, rng)
        if chosen.size < n_codes:
            # Fewer distinct rows than codes: the rest repeat rows (as sklearn's
            # kmeans_plusplus does), and stay unused.
            extra = rng.choice(
                rows.shape[0], n_codes - chosen.size, p=weights / weights.sum()
            )
            chosen = np.concatenate([chosen, extra])
        return dense(rows[chosen]).astype(dtype)
    if isinstance(init, str) and init == "gaussian":
        mean, cov = (to_host(m) for m in weighted_moments(X, sample_weight))
        draws = rng.standard_normal((n_codes, X.shape[1])) @ sqrtm_psd(cov)
        return (mean + draws).astype(dtype)
    if callable(init):
        init = init(to_host(X), n_codes, rng)
        return check_codebook(init, n_codes, X.shape[1], dtype, "the callable init")
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
