"""The numpy backend's fused assignment for few features: distances, running minimum and index kept in registers, never a distance block."""

from __future__ import annotations

from functools import cache

import numpy as np
from numba import carray, njit

from ._common import LANES, stack_empty


def pass_shape(n_features: int) -> tuple[int, int]:
    """Groups of ``LANES`` rows per pass and codes per step of the kernel.

    Each (group, code) pair is an independent chain of ``n_features`` fused
    multiply-adds followed by a compare, a minimum and a blend; few features
    need more chains in flight, and more rows to amortise each code's load.
    Measured on an AMD EPYC (Zen 4, 2 threads, N = 100,000-200,000, K = 1024
    to 16,384): at d = 2, 4 groups x 4 codes ran at 3-7x the rate of 1 x 1
    (which LLVM left scalar); at d = 4, 4 x 4 at 1.1-1.4x 2 x 2; at d = 5-7,
    2 x 2 and 4 x 4 at 1.0-1.5x 1 x 1; at d >= 8, 1 x 1 at 1.1-1.5x 2 x 2 (the
    rows' coordinates fill the registers).
    """
    if n_features <= 4:
        return 4, 4
    if n_features < 8:
        return 2, 2
    return 1, 1


@cache
def fused_kernel(n_features: int):
    """The compiled kernel for one feature count (a constant, so its loops unroll).

    numba keys its on-disk cache on the closure's constants, so each feature
    count compiles once per machine.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [4.0, 4.0]])
    >>> codes, norms = code_rows(np.array([[1.0, 1.0], [5.0, 5.0]]))
    >>> labels, sq_distances = np.empty(2, dtype=np.int64), np.empty(2)
    >>> fused_kernel(2)(X, np.empty(0), codes, norms, 0, 2, labels, sq_distances)
    >>> labels, sq_distances
    (array([0, 1]), array([2., 2.]))
    """
    width = n_features
    groups, codes_per_step = pass_shape(n_features)
    pass_rows = groups * LANES
    transposed_size = width * pass_rows

    @njit(nogil=True, cache=True, fastmath={"contract"})
    def nearest_codes_rows(
        X, x_sq_norms, code_rows, code_norms, start, stop, labels, sq_distances
    ):
        # ||c||^2 - 2 x.c for every code against a pass of rows held
        # transposed (one register per coordinate and group); per row the
        # least value and its code. Codes go in increasing order and only a
        # strictly smaller value replaces the minimum, so ties keep the lower
        # code, as numpy's argmin. ||x||^2 is added at the end (computed here
        # when x_sq_norms is empty: a separate pass cost more than the kernel
        # at d = 2, K = 16).
        n_codes = code_norms.shape[0]
        given_norms = x_sq_norms.shape[0] > 0
        row_norms = carray(stack_empty(pass_rows, X.dtype), (pass_rows,))
        rows_T = carray(stack_empty(transposed_size, X.dtype), (width, pass_rows))
        minima = carray(stack_empty(pass_rows, X.dtype), (pass_rows,))
        argmins = carray(stack_empty(pass_rows, np.int32), (pass_rows,))
        for first in range(start, stop, pass_rows):
            n_rows = min(pass_rows, stop - first)
            for r in range(pass_rows):
                # A short last pass repeats its last row, not a branch.
                row = first + min(r, n_rows - 1)
                norm = X.dtype.type(0)
                for j in range(width):
                    rows_T[j, r] = X[row, j]
                    norm += X[row, j] * X[row, j]
                row_norms[r] = x_sq_norms[row] if given_norms else norm
                minima[r] = np.inf
                argmins[r] = 0
            for step in range(0, n_codes, codes_per_step):
                for offset in range(codes_per_step):
                    code = step + offset
                    norm = code_norms[code]
                    for r in range(pass_rows):
                        distance = norm
                        for j in range(width):
                            distance += rows_T[j, r] * code_rows[code, j]
                        # Arithmetic, not a conditional store: LLVM turns the
                        # latter into masked stores that keep the minima out of
                        # registers (measured 1.8x slower at d = 8).
                        old = minima[r]
                        closer = distance < old
                        minima[r] = min(distance, old)
                        argmins[r] += np.int32(closer) * (np.int32(code) - argmins[r])
            for r in range(n_rows):
                labels[first + r] = argmins[r]
                # Rounding in the expanded form can dip just below zero.
                sq_distances[first + r] = max(minima[r] + row_norms[r], 0)

    return nearest_codes_rows


def code_rows(codebook: np.ndarray):
    """``-2 C`` and ``||c||^2``, padded to whole steps of the kernel with unreachable codes.

    Returns
    -------
    code_rows : ndarray of shape (n_padded, n_features)
        ``-2 c``; zeros past the last code.
    code_norms : ndarray of shape (n_padded,)
        ``||c||^2``; infinity past the last code, so no row ever picks one.

    Examples
    --------
    >>> import numpy as np
    >>> rows, norms = code_rows(np.array([[1.0, 2.0], [3.0, 0.0]]))  # 4 codes a step
    >>> rows
    array([[-2., -4.],
           [-6., -0.],
           [ 0.,  0.],
           [ 0.,  0.]])
    >>> norms
    array([ 5.,  9., inf, inf])
    """
    n_codes, n_features = codebook.shape
    _, codes_per_step = pass_shape(n_features)
    n_padded = -(-n_codes // codes_per_step) * codes_per_step
    rows = np.zeros((n_padded, n_features), dtype=codebook.dtype)
    rows[:n_codes] = -2 * codebook
    norms = np.full(n_padded, np.inf, dtype=codebook.dtype)
    norms[:n_codes] = np.einsum("ij,ij->i", codebook, codebook)
    return rows, norms
