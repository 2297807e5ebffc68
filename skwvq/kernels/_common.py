"""What the kernels share: the ``Assignment`` result, row slices, and the register-lane layout of the numba kernels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

# Rows are laid out in lanes: the coordinates of LANES rows fill one AVX-512
# register of float32 (two of AVX2), and each code's (or candidate's)
# coordinates are broadcast against them, so a row's running minimum and its
# code stay in one lane and need no reduction across lanes at the end. The fused
# assignment kernel and the k-means++ potentials both use this layout.
LANES = 16


@dataclass
class Assignment:
    """Result of assigning samples to their nearest codes.

    Attributes
    ----------
    labels : ndarray or tensor of shape (n_samples,), dtype int64
        Index of the nearest code of each sample.
    sq_distances : ndarray or tensor of shape (n_samples,)
        Squared Euclidean distance of each sample to its nearest code.
    counts : ndarray or tensor of shape (n_codes,), dtype float64
        Total sample weight assigned to each code.
    sums : ndarray or tensor of shape (n_codes, n_features), dtype float64
        Weighted sum of the samples assigned to each code.
    """

    labels: np.ndarray
    sq_distances: np.ndarray
    counts: np.ndarray
    sums: np.ndarray


def slices(n_rows: int, chunk: int) -> list[slice]:
    """Consecutive row slices of at most ``chunk`` rows covering ``range(n_rows)``.

    Examples
    --------
    >>> slices(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    return [
        slice(start, min(start + chunk, n_rows)) for start in range(0, n_rows, chunk)
    ]


@intrinsic
def stack_empty(typingctx, size, dtype):
    """Uninitialised stack storage for ``size`` items (a literal) of ``dtype``.

    Scratch allocated with ``np.empty`` lives on the heap, where LLVM cannot
    tell it from the input and must reload it after every store; on the stack
    it becomes registers (a pass's transposed rows, their running minima and
    codes).
    """
    if not isinstance(size, types.IntegerLiteral):
        return None
    item = dtype.dtype

    def codegen(context, builder, signature, args):
        return cgutils.alloca_once(
            builder, context.get_data_type(item), size=size.literal_value
        )

    return types.CPointer(item)(size, dtype), codegen
