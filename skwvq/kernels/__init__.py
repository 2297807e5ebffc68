"""The compiled kernels: nearest-code assignment on every array type, and the k-means++ seeding.

Kernels take arrays of one type and branch only on their dtype and width; the
choice between dense and sparse kernels, or numpy and torch ones, is the
backend's (``skwvq.backends``). Modules:

- ``_dense``: dense rows on the CPU, chunks of rows on a thread pool, each
  through the fused kernel (``d <= 32``) or a single-threaded BLAS product and
  numpy's argmin; numba per-code counts and sums; distances for ``transform``.
- ``_fused``: the fused numba kernel for few features: rows transposed in
  register lanes, a running minimum and code per lane, one kernel per width.
- ``_sparse``: CSR rows: each row's stored entries times the codebook, argmin
  and per-code sums in numba; ``as_csr``, the canonical form they read.
- ``_torch``: tensors on a device: chunked ``addmm`` + ``min``, ``bincount``
  and ``index_add_`` (imported by the torch backend only).
- ``_triton``: the fused Triton kernel for CUDA devices (imported only where
  Triton is installed).
- ``_seeding``: greedy k-means++'s candidate potentials on dense rows (in
  register lanes up to 16 features) and on CSR rows, and the greedy loop.
- ``_common``: what they share: the ``Assignment`` result, ``slices``, the
  lane width and stack scratch of the numba kernels.
"""

from ._common import LANES, Assignment, slices, stack_empty
from ._dense import (
    FUSED_MAX_FEATURES,
    assign,
    available_threads,
    chunk_rows,
    code_sums,
    nearest_codes,
    pairwise_distances_chunked,
    single_threaded_blas,
    uses_fused_kernel,
)
from ._seeding import (
    LANE_POTENTIALS_MAX_FEATURES,
    DenseSeedingRows,
    SparseSeedingRows,
    greedy_kmeanspp,
)
from ._sparse import as_csr, assign_sparse, code_sums_sparse, nearest_codes_sparse

__all__ = [
    "FUSED_MAX_FEATURES",
    "LANES",
    "LANE_POTENTIALS_MAX_FEATURES",
    "Assignment",
    "DenseSeedingRows",
    "SparseSeedingRows",
    "as_csr",
    "assign",
    "assign_sparse",
    "available_threads",
    "chunk_rows",
    "code_sums",
    "code_sums_sparse",
    "greedy_kmeanspp",
    "nearest_codes",
    "nearest_codes_sparse",
    "pairwise_distances_chunked",
    "single_threaded_blas",
    "slices",
    "stack_empty",
    "uses_fused_kernel",
]
