"""Dask input: a fit's rows persisted where they live (one first pass, per-iteration block statistics reduced as a tree) and lazy block-wise inference.

A Dask fit runs the solver's driver unchanged on the client; what differs is
its source of row blocks. ``DaskRows`` holds the validated array; its sources
ask the workers for each block's per-code statistics against the current
codebook (sent as one graph key), add them up in a tree and bring back
``K x (d + 2)`` numbers: one small ``compute`` per step. The alignment's data
side is computed once: moments in the first pass
(``DaskRows.check_sample_weight``), or the OT sample's rows, which are the rows
the numpy fit draws for the same ``random_state`` (``DaskRows.host_rows``).
Inference maps the in-memory computation over the blocks, lazily.

Nothing here is imported unless a dask collection is handed to skwvq:
``import skwvq`` never imports dask.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import _check_sample_weight

from .._moments import Moments
from .._sources import FullBatch, MiniBatches
from .._statistics import CodeStatistics
from ..backends import backend_of
from ..kernels import assign
from ._base import EncodedRows, Output, Rows
from ._dense import DenseRows

# Block results are added this many at a time (``split_every`` of dask's reductions).
SPLIT_EVERY = 8


def as_dask_array(X):
    """A dask array or DataFrame of numeric columns as a 2-D float dask array, one block per row chunk.

    The checks that need no data run here (dimensions, dtype, empty input);
    values are checked in the first pass (``DaskRows.check_sample_weight``).
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


def _code_statistics_block(block, weights, codebook, check=False):
    """The block's per-code weighted counts, sums and squared error, packed as ``(K, d + 2)``.

    With ``check``, the block's values and weights are checked first, as a
    numpy X's would be (for rows that had no first pass).
    """
    if check:
        if not np.isfinite(block).all():
            raise ValueError("Input X contains NaN or infinity.")
        if weights is not None:
            _check_sample_weight(weights, block, ensure_non_negative=True)
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


def _apply_block(block, job, features: bool):
    """``function(rows, *args)`` on one block, its rows checked as a numpy X would be."""
    function, args = job
    if features:
        rows = DenseRows(
            check_array(block, dtype=[np.float64, np.float32]), backend_of()
        )
    else:
        rows = EncodedRows(block)
    return function(rows, *args)


# ----------------------------------------------------------------- client --
class DaskRows(Rows):
    """A validated dask array (from a dask array or DataFrame), read block by block on its cluster.

    ``host_rows`` computes only the blocks holding the rows asked for;
    ``check_sample_weight`` is the first pass (finite values, the weights,
    the moments); ``source`` gives the solver's sources, whose statistics are
    tree-reduced on the cluster; ``apply`` maps in-memory inference over the
    blocks, lazily.

    Parameters
    ----------
    X : dask array or dask DataFrame of shape (n_samples, n_features)
    features : bool, default=True
        Whether the blocks are features, checked as a numpy X is (False: an
        encoding, for ``inverse_transform``).
    """

    def __init__(self, X, *, features: bool = True):
        self.array = as_dask_array(X)
        self.features = features
        self.shape, self.dtype = self.array.shape, self.array.dtype
        self.nx = backend_of()
        self.weights = None
        self.scanned = None

    def check_sample_weight(
        self, sample_weight, *, dtype=None, covariance=False, persist=False
    ) -> np.ndarray:
        """The first pass: every value finite, the weights, the moments; the weights on the host.

        Weights (a dask or numpy array, or None for ones) are kept beside the
        rows (persisted with them); on the host they serve the same draws as a
        numpy fit's. ``covariance=False`` keeps only per-feature variances.
        """
        import dask

        if persist:
            self.array = self.array.persist()
        self._keep_weights(sample_weight, persist)
        scans = _tree(
            [
                dask.delayed(_scan_block, pure=True)(block, weights, not covariance)
                for block, weights in _block_pairs(self.array, self.weights)
            ],
            _merge_scans,
        )
        (finite, self.scanned), host = dask.compute(scans, self.weights)
        if not finite:
            raise ValueError("Input X contains NaN or infinity.")
        self.sample_weight = _check_sample_weight(
            host,
            np.empty((self.shape[0], 0)),
            dtype=self.dtype if dtype is None else dtype,
            ensure_non_negative=True,
        )
        return self.sample_weight

    def _keep_weights(self, sample_weight, persist: bool) -> None:
        """The weights as a dask array chunked as the rows (None: unit weights)."""
        import dask.array as da

        if sample_weight is None:
            return
        weights = da.asarray(sample_weight)
        if weights.ndim != 1 or weights.shape[0] != self.shape[0]:
            raise ValueError(
                f"sample_weight.shape == {weights.shape}, expected ({self.shape[0]},)."
            )
        self.weights = weights.astype(np.float64).rechunk(self.array.chunks[0])
        if persist:
            self.weights = self.weights.persist()

    def inertia(self, codebook, sample_weight=None) -> float:
        """One pass, as a numpy ``score``: each block checks its values and weights where it is read."""
        self._keep_weights(sample_weight, persist=False)
        return self.code_statistics(codebook, check=True).error

    def moments(self, *, diagonal: bool = False) -> Moments:
        """The moments gathered by the first pass."""
        scanned = self.scanned
        if not diagonal and scanned.diagonal:
            raise RuntimeError("The first pass kept variances only.")
        if diagonal and not scanned.diagonal:
            scatter = self.nx.diag(scanned.scatter)
            return Moments(scanned.weight, scanned.mean, scatter)
        return scanned

    def host_rows(self, index):
        index = np.asarray(index)
        return np.asarray(self.array[index].compute(), dtype=np.float64)

    def init_input(self):
        return self.array

    def source(self, batch_size: int | None = None):
        if batch_size is None:
            return FullBatch(self.n_samples, self.code_statistics)

        def read(spans, codebook):
            weights = self.weights
            pieces = [
                (self.array[span], None if weights is None else weights[span])
                for span in spans
            ]
            return self.code_statistics(codebook, pieces)

        return MiniBatches(self.n_samples, batch_size, read)

    def code_statistics(self, codebook, pieces=None, *, check=False) -> CodeStatistics:
        """Per-code statistics of all rows (or of ``pieces``: (rows, weights) dask slices) in one compute."""
        from dask import delayed

        key = delayed(np.asarray(codebook, dtype=self.dtype))
        if pieces is None:
            pieces = [(self.array, self.weights)]
        parts = [
            delayed(_code_statistics_block, pure=True)(block, weights, key, check)
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

    def apply(self, function, *args, output: Output):
        """``function(rows, *args)`` block by block, lazily: a dask array shaped by ``output``.

        The function and its arguments (the codebook) travel to the workers
        once, as one graph key; each block is checked as a numpy X would be.
        """
        from dask import delayed

        dtype = np.dtype(output.dtype)
        if output.columns is None:
            layout = dict(drop_axis=1, meta=np.empty(0, dtype))
        else:
            meta = sp.csr_matrix((0, 0), dtype=dtype) if output.sparse else None
            layout = dict(
                chunks=(self.array.chunks[0], (output.columns,)),
                meta=np.empty((0, 0), dtype) if meta is None else meta,
            )
        job = delayed((function, args), pure=True)
        return self.array.map_blocks(
            _apply_block, job, self.features, dtype=dtype, **layout
        )

    def wrap(self, result):
        return result
