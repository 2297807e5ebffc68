"""Dask support: a fit's rows persisted where they live (one first pass, per-iteration block statistics reduced as a tree) and lazy block-wise inference.

A Dask fit runs the solver's driver unchanged on the client; what differs is
its source of row blocks. ``DaskRows`` holds the validated, persisted array;
its sources ask the workers for each block's per-code statistics against the
current codebook (sent as one graph key), add them up in a tree and bring
back ``K x (d + 2)`` numbers: one small ``compute`` per step. The alignment's
data side is computed once: moments in the first pass (``DaskRows.scan``), or
the OT sample's rows, which are the rows the numpy fit draws for the same
``random_state`` (``DaskRows.__getitem__`` serves ``host_rows``).

Nothing here is imported unless a dask collection is handed to the
estimator: ``import skwvq`` never imports dask.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.utils.validation import _check_sample_weight

from ._moments import Moments
from ._sources import batch_count, batch_spans
from ._statistics import CodeStatistics
from .kernels import assign

# Block results are added this many at a time (``split_every`` of dask's reductions).
SPLIT_EVERY = 8


def as_dask_array(X):
    """A dask array or DataFrame of numeric columns as a 2-D float dask array, one block per row chunk.

    The checks that need no data run here (dimensions, dtype, empty input);
    values are checked in the first pass (``DaskRows.scan``).
    """
    import dask.array as da

    if not isinstance(X, da.Array):
        if not hasattr(X, "to_dask_array"):
            raise TypeError(
                f"A dask collection of type {type(X).__name__} cannot be fitted; "
                "pass a dask array or a dask DataFrame of numeric columns."
            )
        from pandas.api.types import is_bool_dtype, is_numeric_dtype

        dtypes = getattr(X, "dtypes", None)
        if dtypes is not None and not all(
            is_numeric_dtype(dtype) or is_bool_dtype(dtype) for dtype in dtypes
        ):
            raise ValueError("A dask DataFrame must hold numeric columns only.")
        X = X.to_dask_array(lengths=True)
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D dask array, got a {X.ndim}D array instead: reshape "
            "your data (e.g. X.reshape(-1, 1) for a single feature)."
        )
    if any(np.isnan(size) for size in X.shape):
        X = X.compute_chunk_sizes()
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) "
            "while a minimum of 1 is required."
        )
    if X.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_):
            raise ValueError(f"dask array of dtype {X.dtype} is not numeric.")
        X = X.astype(np.float64)
    if len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})
    return X


def _block_pairs(rows, weights):
    """Each row block of the dask array ``rows`` (as a delayed) with its block of ``weights`` (None: unit weights)."""
    blocks = rows.to_delayed().ravel()
    if weights is None:
        return [(block, None) for block in blocks]
    return list(zip(blocks, weights.to_delayed().ravel()))


def _tree(parts, combine):
    """The delayed results of ``parts`` combined ``SPLIT_EVERY`` at a time, as a tree."""
    from dask import delayed

    while len(parts) > 1:
        parts = [
            delayed(combine, pure=True)(*parts[i : i + SPLIT_EVERY])
            for i in range(0, len(parts), SPLIT_EVERY)
        ]
    return parts[0]


# ---------------------------------------------------------------- workers --
# Functions run on the workers: pure functions of their block (no random
# draws), so a block recomputed after a lost worker gives the same numbers.
def _scan_block(block, weights, diagonal):
    """Whether the block is finite, and its moments."""
    if weights is None:
        weights = np.ones(block.shape[0])
    if not np.isfinite(block).all():
        return False, Moments.empty(block.shape[1], diagonal=diagonal)
    return True, Moments.of(block, weights, diagonal=diagonal)


def _merge_scans(*scans):
    finite = all(f for f, _ in scans)
    moments = scans[0][1]
    for _, other in scans[1:]:
        moments = moments.merge(other)
    return finite, moments


def _code_statistics_block(block, weights, codebook):
    """The block's per-code weighted counts, sums and squared error, packed as ``(K, d + 2)``."""
    result = assign(block, codebook, sample_weight=weights, n_threads=1)
    sq_distances = result.sq_distances
    if weights is not None:
        sq_distances = sq_distances * weights
    error = np.bincount(result.labels, weights=sq_distances, minlength=len(codebook))
    return np.column_stack([result.counts, result.sums, error])


def _add(*parts):
    return sum(parts[1:], parts[0])


def _labels_block(block, codebook):
    return assign(block, codebook, n_threads=1).labels


def _inference_block(block, estimator, method):
    return getattr(estimator, method)(block)


def _score_block(block, weights, estimator):
    return np.array([estimator.score(block, sample_weight=weights)])


# ----------------------------------------------------------------- client --
class DaskRows:
    """The rows of a Dask fit: a validated dask array, persisted once, and its weights.

    ``shape``, ``dtype`` and row indexing (``rows[index]`` computes only the
    blocks holding those rows) are what the fit's draws need;
    ``weighted_moments`` and ``mean_feature_variance`` answer from the first
    pass; ``full_batch`` and ``mini_batches`` are the sources of the solver.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n_samples, n_features)
    """

    def __init__(self, X, *, persist: bool = True):
        array = as_dask_array(X)
        self.array = array.persist() if persist else array
        self.persisted = persist
        self.shape, self.dtype = self.array.shape, self.array.dtype
        self.weights = None
        self.moments = None

    def __getitem__(self, index) -> np.ndarray:
        return np.asarray(self.array[np.asarray(index)].compute())

    def scan(self, sample_weight, *, covariance: bool):
        """The first pass: check every value is finite, gather the moments; return the weights on the host.

        Weights (a dask or numpy array, or None for ones) are kept beside the
        rows (persisted with them); on the host they serve the same draws as a
        numpy fit's. ``covariance=False`` keeps only per-feature variances.
        """
        import dask
        import dask.array as da

        if sample_weight is not None:
            weights = da.asarray(sample_weight)
            if weights.ndim != 1 or weights.shape[0] != self.shape[0]:
                raise ValueError(
                    f"sample_weight.shape == {weights.shape}, expected "
                    f"({self.shape[0]},)."
                )
            self.weights = weights.astype(np.float64).rechunk(self.array.chunks[0])
            if self.persisted:
                self.weights = self.weights.persist()
        scans = _tree(
            [
                dask.delayed(_scan_block, pure=True)(block, weights, not covariance)
                for block, weights in _block_pairs(self.array, self.weights)
            ],
            _merge_scans,
        )
        (finite, self.moments), host = dask.compute(scans, self.weights)
        if not finite:
            raise ValueError("Input X contains NaN or infinity.")
        return _check_sample_weight(
            host,
            np.empty((self.shape[0], 0)),
            dtype=self.dtype,
            ensure_non_negative=True,
        )

    # What the alignment and the stopping rule ask of the rows, answered from the first pass.
    def weighted_moments(self):
        if self.moments.diagonal:
            raise RuntimeError("The first pass kept variances only.")
        return self.moments.mean.copy(), self.moments.cov

    def mean_feature_variance(self) -> float:
        return float(self.moments.variances.mean())

    def code_statistics(self, codebook, pieces=None) -> CodeStatistics:
        """Per-code statistics of all rows (or of ``pieces``: (rows, weights) dask slices) in one compute."""
        from dask import delayed

        key = delayed(np.asarray(codebook))
        if pieces is None:
            pieces = [(self.array, self.weights)]
        parts = [
            delayed(_code_statistics_block, pure=True)(block, weights, key)
            for rows, row_weights in pieces
            for block, weights in _block_pairs(rows, row_weights)
        ]
        n_rows = sum(rows.shape[0] for rows, _ in pieces)
        packed = _tree(parts, _add).compute()
        counts = packed[:, 0]
        return CodeStatistics(
            counts,
            packed[:, 1:-1],
            float(packed[:, -1].sum()),
            float(counts.sum()),
            n_rows,
        )

    def full_batch(self) -> DaskFullBatch:
        return DaskFullBatch(self)

    def mini_batches(self, batch_size: int) -> DaskMiniBatches:
        return DaskMiniBatches(self, batch_size)

    def final_assignment(self, codebook):
        """Lazy labels, the inertia and the number of codes with rows (of positive weight), in one compute."""
        from dask import delayed

        statistics = self.code_statistics(codebook)
        labels = self.array.map_blocks(
            _labels_block,
            delayed(np.asarray(codebook)),
            drop_axis=1,
            dtype=np.int64,
            meta=np.empty(0, np.int64),
        )
        return labels, statistics.error, int(np.count_nonzero(statistics.counts))


class DaskFullBatch:
    """All rows of a ``DaskRows`` as one block per epoch."""

    def __init__(self, rows: DaskRows):
        self.rows = rows
        self.n_rows = rows.shape[0]

    def blocks(self, rng):
        yield None

    def statistics(self, block, codebook):
        return self.rows.code_statistics(codebook)


class DaskMiniBatches:
    """Mini-batches of a ``DaskRows``: the spans of rows a numpy fit's batches take (``batch_spans``)."""

    def __init__(self, rows: DaskRows, batch_size: int):
        self.rows = rows
        self.n_rows = rows.shape[0]
        self.batch_size = batch_size
        self.n_blocks = batch_count(self.n_rows, batch_size)

    def blocks(self, rng):
        return batch_spans(self.n_rows, self.batch_size, rng)

    def statistics(self, spans, codebook):
        rows = self.rows
        pieces = [
            (rows.array[span], None if rows.weights is None else rows.weights[span])
            for span in spans
        ]
        return rows.code_statistics(codebook, pieces)


# -------------------------------------------------------------- inference --
def _for_workers(estimator):
    """A copy holding only what inference reads (no labels, stream or history)."""
    light = copy.copy(estimator)
    for name in ("labels_", "_stream", "history_", "feature_names_in_"):
        vars(light).pop(name, None)
    return light


def map_inference(estimator, X, method: str):
    """``estimator.method`` applied block by block to a dask X, lazily (a dask array).

    The estimator travels to the workers once, as one graph key, without its
    training labels; each block is checked as ``method`` checks numpy input.
    """
    import scipy.sparse as sp
    from dask import delayed

    X = as_dask_array(X)
    encode, rows = estimator.encode, X.chunks[0]
    reads_features = method != "inverse_transform" or encode == "quantized"
    if reads_features and X.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features, but {type(estimator).__name__} is "
            f"expecting {estimator.n_features_in_} features as input."
        )
    dtype = X.dtype if reads_features else estimator.codebook_.dtype
    if method == "predict":
        layout = dict(drop_axis=1, dtype=np.int64, meta=np.empty(0, np.int64))
    elif method == "inverse_transform" or encode == "quantized":
        columns = (estimator.n_features_in_,)
        layout = dict(chunks=(rows, columns), dtype=dtype, meta=np.empty((0, 0), dtype))
    elif encode == "ordinal":
        layout = dict(
            chunks=(rows, (1,)), dtype=np.int64, meta=np.empty((0, 0), np.int64)
        )
    else:
        meta = (
            sp.csr_matrix((0, 0), dtype=dtype)
            if encode == "onehot"
            else np.empty((0, 0), dtype)
        )
        layout = dict(chunks=(rows, (estimator.n_clusters_,)), dtype=dtype, meta=meta)
    key = delayed(_for_workers(estimator))
    return X.map_blocks(_inference_block, key, method, **layout)


def score(estimator, X, sample_weight=None) -> float:
    """``estimator.score`` of a dask X: the blocks' scores added on the cluster."""
    import dask.array as da
    from dask import delayed

    X = as_dask_array(X)
    key = delayed(_for_workers(estimator))
    weights = None
    if sample_weight is not None:
        weights = da.asarray(sample_weight).rechunk(X.chunks[0])
    parts = [
        delayed(_score_block, pure=True)(block, block_weights, key)
        for block, block_weights in _block_pairs(X, weights)
    ]
    return float(_tree(parts, _add).compute()[0])
