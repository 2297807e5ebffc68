"""The numpy backend's nearest-code assignment of dense rows: the fused kernel for few features, chunked BLAS distances and a per-chunk argmin otherwise, numba per-code sums."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import lru_cache

import numpy as np
from numba import njit
from sklearn.utils.extmath import row_norms
from threadpoolctl import ThreadpoolController

from ._common import Assignment, slices
from ._fused import code_rows, fused_kernel

# Rows per chunk are chosen so that the chunk's distance block (rows x K) stays
# near this many bytes: small enough to live in cache between the GEMM that
# writes it and the argmin that reads it, large enough for an efficient GEMM.
_DISTANCE_BLOCK_BYTES = 1 << 21
_MIN_CHUNK_ROWS = 64
# Widest rows that the fused kernel takes. Measured on an AMD EPYC (Zen 4, 2
# threads, N = 100,000, K = 1024 and 16,384): at d = 32 it ran at 1.5-1.9x the
# BLAS path, at d = 48 at 1.0-1.2x, and at d = 64, where the rows' coordinates
# no longer fit the registers, LLVM left it scalar (5 GFLOP/s against 90).
FUSED_MAX_FEATURES = 32
# Rows per task handed to a thread by the fused path.
FUSED_CHUNK_ROWS = 4096


def chunk_rows(n_codes: int, itemsize: int) -> int:
    """Number of rows per chunk so that a chunk's distance block stays cache-sized."""
    return max(_MIN_CHUNK_ROWS, _DISTANCE_BLOCK_BYTES // max(1, n_codes * itemsize))


def partial_sq_distances(X_chunk, codebook, code_sq_norms):
    """``||c||^2 - 2 x.c`` for a block of rows: the squared distance less ``||x||^2``."""
    block = X_chunk @ codebook.T
    block *= -2
    block += code_sq_norms
    return block


@lru_cache(maxsize=1)
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def single_threaded_blas():
    """A context holding BLAS at one thread: the assignment's own threads are the parallelism.

    Between two assignment passes a fit runs small products (the alignment's,
    the update's); with BLAS threaded, OpenBLAS's workers then spin for a while
    after each and compete with the next pass's threads. On 2 cores, at
    N = 10^5, d = 64, K = 1024, that made the pass after such a product 0.15 s
    instead of 0.11 s; with BLAS held at one thread over the fit, every pass
    took 0.11-0.12 s.
    """
    return _blas_controller().limit(limits=1, user_api="blas")


@lru_cache(maxsize=4)
def _executor(n_threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="skwvq")


def available_threads() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@njit(cache=True, nogil=True)
def _accumulate(X, labels, sample_weight, counts, sums):
    # One serial pass in row order, so the sums do not depend on the thread count.
    n_rows, n_features = X.shape
    for i in range(n_rows):
        k = labels[i]
        w = sample_weight[i]
        counts[k] += w
        for j in range(n_features):
            sums[k, j] += w * X[i, j]


def _augmented_codebook_T(codebook):
    """``[-2 C, ||c||^2]^T``: one GEMM with ``[x, 1]`` then gives ``||c||^2 - 2 x.c``."""
    n_codes, n_features = codebook.shape
    out = np.empty((n_features + 1, n_codes), dtype=codebook.dtype)
    out[:n_features] = -2 * codebook.T
    out[n_features] = np.einsum("ij,ij->i", codebook, codebook)
    return out


def _nearest_codes_lane(X, chunks, augmented_T, x_sq_norms, labels, sq_distances):
    """One thread's share of the chunks, through distance buffers allocated once.

    Allocating the chunk's blocks anew each time costs page faults where
    large allocations are mapped and unmapped every time: Dask's workers set
    ``MALLOC_TRIM_THRESHOLD_``, under which a fresh 2 MB block per chunk made
    the assignment 3.5 times slower (measured on 250,000 rows, K = 256, d = 16).
    """
    n_features = X.shape[1]
    size = max(rows.stop - rows.start for rows in chunks)
    augmented = np.empty((size, n_features + 1), dtype=X.dtype)
    augmented[:, n_features] = 1
    products = np.empty((size, augmented_T.shape[1]), dtype=X.dtype)
    for rows in chunks:
        n_rows = rows.stop - rows.start
        X_chunk = X[rows]
        chunk_augmented, chunk_products = augmented[:n_rows], products[:n_rows]
        chunk_augmented[:, :n_features] = X_chunk
        # The code norms ride in the GEMM and numpy's SIMD argmin reads the
        # block once: a numba argmin loop (scalar, branchy) measured 1.3-1.6x
        # slower here.
        np.matmul(chunk_augmented, augmented_T, out=chunk_products)
        chunk_labels = chunk_products.argmin(axis=1)
        labels[rows] = chunk_labels
        best = chunk_products[np.arange(n_rows), chunk_labels]
        if x_sq_norms is None:
            best += np.einsum("ij,ij->i", X_chunk, X_chunk)
        else:
            best += x_sq_norms[rows]
        # Rounding in the expanded form can dip just below zero.
        np.maximum(best, 0, out=sq_distances[rows])


def _nearest_codes_fused_lane(X, chunks, prepared, x_sq_norms, labels, sq_distances):
    """One thread's share of the chunks through the fused kernel (``prepared``: it and its code rows)."""
    kernel, code_rows_, code_norms = prepared
    if x_sq_norms is None:  # the kernel computes them
        x_sq_norms = np.empty(0, dtype=X.dtype)
    for rows in chunks:
        kernel(
            X,
            x_sq_norms,
            code_rows_,
            code_norms,
            rows.start,
            rows.stop,
            labels,
            sq_distances,
        )


def uses_fused_kernel(n_features: int) -> bool:
    """Whether ``nearest_codes`` takes the fused kernel rather than BLAS for this width.

    Examples
    --------
    >>> uses_fused_kernel(8), uses_fused_kernel(64)
    (True, False)
    """
    return n_features <= FUSED_MAX_FEATURES


def nearest_codes(X, codebook, *, x_sq_norms=None, chunk_size=None, n_threads=None):
    """Labels and squared distances of the nearest codes, chunks spread over threads.

    With few features (``uses_fused_kernel``) each thread runs the fused kernel
    of ``skwvq.kernels._fused`` on its chunks. Otherwise each thread runs
    single-threaded BLAS on its own chunk followed by the argmin while the
    chunk's distance block is still in cache; BLAS's own threads are held at
    one meanwhile, since they would otherwise spin against ours.

    Returns
    -------
    labels : ndarray of shape (n_samples,), int64
    sq_distances : ndarray of shape (n_samples,), dtype of X
    """
    n_samples, n_features = X.shape
    n_codes = codebook.shape[0]
    fused = uses_fused_kernel(n_features)
    if chunk_size is None:
        chunk_size = (
            FUSED_CHUNK_ROWS if fused else chunk_rows(n_codes, X.dtype.itemsize)
        )
    if n_threads is None:
        n_threads = available_threads()
    labels = np.empty(n_samples, dtype=np.int64)
    sq_distances = np.empty(n_samples, dtype=X.dtype)
    chunks = slices(n_samples, chunk_size)

    if not chunks:
        return labels, sq_distances

    if fused:
        lane_kernel = _nearest_codes_fused_lane
        prepared = (fused_kernel(n_features), *code_rows(codebook))
    else:
        lane_kernel, prepared = _nearest_codes_lane, _augmented_codebook_T(codebook)

    def run(lane):
        lane_kernel(X, lane, prepared, x_sq_norms, labels, sq_distances)

    n_threads = min(n_threads, len(chunks))
    lanes = [chunks[i::n_threads] for i in range(n_threads)]
    # The fused kernel calls no BLAS, and limiting BLAS threads costs ~0.07 ms.
    with nullcontext() if fused else single_threaded_blas():
        if n_threads == 1:
            run(lanes[0])
        else:
            list(_executor(n_threads).map(run, lanes))
    return labels, sq_distances


def assign(
    X: np.ndarray,
    codebook: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    x_sq_norms: np.ndarray | None = None,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> Assignment:
    """Assign every sample to its nearest code and gather per-code statistics.

    Distances are computed chunk by chunk (chunks spread over threads) as
    ``||x||^2 + ||c||^2 - 2 x.c``: with few features by the fused kernel of
    ``skwvq.kernels._fused``, which keeps each row's running minimum in a
    register, otherwise by one BLAS product per chunk (the code norms folded
    in) and an argmin while the chunk is in cache; one serial numba pass
    then adds each sample to its code's weighted count and sum, in row order,
    so the sums do not depend on the thread count. Memory stays
    ``O(chunk_size * n_codes)``: the ``n_samples x n_codes`` matrix is never formed.

    Sparse rows take ``skwvq.kernels.assign_sparse`` instead (the numpy
    backend chooses).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64
        Samples (read-only and memory-mapped arrays are accepted).
    codebook : ndarray of shape (n_codes, n_features)
        Codes, in the dtype of ``X``.
    sample_weight : ndarray of shape (n_samples,), default=None
        Weights of the samples in ``counts`` and ``sums``; ones if None.
    x_sq_norms : ndarray of shape (n_samples,), default=None
        Precomputed squared norms of the rows of ``X``.
    chunk_size : int, default=None
        Rows per chunk; sized from ``n_codes`` to stay in cache if None.
    n_threads : int, default=None
        Threads over chunks; all available cores if None. Results do not depend on it.

    Returns
    -------
    Assignment
        Labels, squared distances, per-code weighted counts and sums.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.kernels import assign
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    >>> codebook = np.array([[0.0, 0.0], [5.0, 5.0], [9.0, 9.0]])
    >>> result = assign(X, codebook)
    >>> result.labels
    array([0, 0, 1])
    >>> result.counts
    array([2., 1., 0.])
    """
    labels, sq_distances = nearest_codes(
        X,
        codebook,
        x_sq_norms=x_sq_norms,
        chunk_size=chunk_size,
        n_threads=n_threads,
    )
    counts, sums = code_sums(X, labels, sample_weight, codebook.shape[0])
    return Assignment(labels, sq_distances, counts, sums)


def code_sums(X, labels, sample_weight, n_codes: int):
    """Weighted count and float64 sum of the rows assigned to each code.

    One serial numba pass in row order, so the sums do not depend on how the
    labels were computed (thread count, chunking).

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,), int64
    sample_weight : ndarray of shape (n_samples,) or None
        Ones if None.
    n_codes : int

    Returns
    -------
    counts : ndarray of shape (n_codes,), float64
    sums : ndarray of shape (n_codes, n_features), float64

    Examples
    --------
    >>> import numpy as np
    >>> counts, sums = code_sums(np.array([[1.0], [3.0], [5.0]]), np.array([0, 0, 1]), None, 2)
    >>> counts, sums.ravel()
    (array([2., 1.]), array([4., 5.]))
    """
    n_samples, n_features = X.shape
    if sample_weight is None:
        sample_weight = np.ones(n_samples, dtype=X.dtype)
    counts = np.zeros(n_codes, dtype=np.float64)
    sums = np.zeros((n_codes, n_features), dtype=np.float64)
    _accumulate(X, labels, sample_weight, counts, sums)
    return counts, sums


def _dense_rows(X, index):
    return np.asarray(X[index])


def pairwise_distances_chunked(X, codebook: np.ndarray, rows=_dense_rows) -> np.ndarray:
    """Euclidean distances from every sample to every code, computed chunk by chunk.

    The output is ``n_samples x n_codes`` by nature; only the temporaries are chunked.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    codebook : ndarray of shape (n_codes, n_features)
    rows : callable, default reads ``np.asarray(X[index])``
        ``rows(X, index)`` gives a chunk of rows (the numpy backend passes its
        own, which keeps sparse rows CSR).

    Returns
    -------
    ndarray of shape (n_samples, n_codes)

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.kernels import pairwise_distances_chunked
    >>> pairwise_distances_chunked(np.array([[3.0, 4.0]]), np.zeros((2, 2)))
    array([[5., 5.]])
    """
    n_samples = X.shape[0]
    n_codes = codebook.shape[0]
    chunk_size = chunk_rows(n_codes, X.dtype.itemsize)
    code_sq_norms = np.einsum("ij,ij->i", codebook, codebook)
    out = np.empty((n_samples, n_codes), dtype=X.dtype)
    for span in slices(n_samples, chunk_size):
        X_chunk = rows(X, span)
        block = partial_sq_distances(X_chunk, codebook, code_sq_norms)
        block += row_norms(X_chunk, squared=True)[:, None]
        np.maximum(block, 0, out=block)
        out[span] = np.sqrt(block)
    return out
