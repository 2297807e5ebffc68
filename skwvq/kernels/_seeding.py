"""The compiled k-means++ seeding: candidates' potentials on dense rows (row by row, or in register lanes up to 16 features) and on CSR rows, and the greedy loop over them."""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import carray, njit, prange

from ._common import LANES, stack_empty
from ._sparse import as_csr

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


class DenseSeedingRows:
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


class SparseSeedingRows:
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


def greedy_kmeanspp(rows, weights, closest, uniforms):
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
