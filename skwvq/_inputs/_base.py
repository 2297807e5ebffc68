"""``Rows``: what every input kind offers below the estimator's door, and the implementation that the in-memory kinds share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import _check_sample_weight

from .._moments import Moments
from .._sources import FullBatch, MiniBatches, SingleBatch
from .._statistics import CodeStatistics, block_statistics
from ..backends import entries_per_row, to_host


@dataclass(frozen=True)
class Output:
    """The shape of what an inference function returns per row, for inputs computed lazily.

    Attributes
    ----------
    columns : int or None
        Columns per row; None for one value per row (labels).
    dtype : numpy dtype
    sparse : bool, default=False
        Whether the result is a sparse (CSR) matrix.
    """

    columns: int | None
    dtype: object
    sparse: bool = False


class Rows:
    """X as a fit, the metrics and inference see it, whatever its kind.

    ``skwvq._inputs.as_rows`` looks at X once and returns one of these; below
    it nothing asks what X is. Its interface:

    - ``nx``, ``shape``, ``n_samples``, ``n_features``, ``dtype`` (of results)
      and ``entries_per_row`` (the cost of one distance to a row);
    - ``check_sample_weight``: the weights checked against the rows (a Dask
      fit's first pass), kept as ``sample_weight`` on the host;
    - ``moments``: the weighted mean and covariance, or per-feature variances;
    - ``host_rows(index)``: rows on the host in float64 (CSR for sparse
      input): the initial codebook, the OT sample, the re-seeding support;
    - ``init_input()``: what a callable ``init`` receives;
    - ``source(batch_size)`` and ``batch(dtype)``: the solver's blocks (all
      rows, mini-batches, one ``partial_fit`` batch); ``on_host()``: the same
      rows on the numpy backend, for a stream's data side;
    - ``code_statistics(codebook)``, ``final_assignment(codebook)`` and
      ``inertia(codebook, sample_weight)``;
    - ``apply(function, *args, output=)``: inference, in one go or lazily
      block by block, with ``wrap`` returning results in the input's kind;
      ``average`` of a per-row value;
    - ``sparse``: whether the rows are CSR (which no residual can stay).
    """

    nx = None
    sparse = False
    shape: tuple[int, int] = (0, 0)
    dtype = np.dtype(np.float64)
    sample_weight = None

    @property
    def n_samples(self) -> int:
        return self.shape[0]

    @property
    def n_features(self) -> int:
        return self.shape[1]

    @property
    def entries_per_row(self) -> float:
        """Entries one distance to a row reads: its features (its stored entries if sparse)."""
        return float(self.n_features)

    def check_sample_weight(
        self, sample_weight, *, dtype=None, covariance=False, persist=False
    ) -> np.ndarray:
        """Check ``sample_weight`` against the rows and keep it; return it on the host.

        Parameters
        ----------
        sample_weight : array-like of shape (n_samples,) or None
        dtype : numpy dtype, default=None
            Of the weights; the rows' ``dtype`` if None.
        covariance : bool, default=False
            Whether ``moments`` will be asked for the full covariance (else
            per-feature variances at most): a Dask first pass keeps only what
            is needed.
        persist : bool, default=False
            Whether the rows will be read again and again (every iteration of
            a fit): a Dask array is then persisted on its cluster.
        """
        self.sample_weight = _check_sample_weight(
            to_host(sample_weight),
            np.empty((self.n_samples, 0)),
            dtype=self.dtype if dtype is None else dtype,
            ensure_non_negative=True,
        )
        return self.sample_weight

    def moments(self, *, diagonal: bool = False) -> Moments:
        """Weighted moments of the rows (by ``sample_weight``; in memory, ones before it is checked; on Dask, those of the first pass)."""
        raise NotImplementedError

    def host_rows(self, index):
        """The rows at ``index`` on the host, float64: an array, or CSR for sparse input."""
        raise NotImplementedError

    def init_input(self):
        """What a callable ``init(X, n_clusters, random_state)`` receives (``KMeans``'s X)."""
        raise NotImplementedError

    def source(self, batch_size: int | None = None):
        """The solver's source of row blocks: all rows, or mini-batches of ``batch_size``."""
        raise NotImplementedError

    def batch(self, dtype):
        """The rows as one ``partial_fit`` batch, in the codebook's ``dtype``."""
        raise NotImplementedError

    def on_host(self) -> Rows:
        """The same rows and weights on the numpy backend (a stream's data side is kept on the host)."""
        raise NotImplementedError

    def code_statistics(self, codebook) -> CodeStatistics:
        """Per-code statistics of all rows against ``codebook``."""
        raise NotImplementedError

    def final_assignment(self, codebook):
        """Labels, inertia and the number of codes with rows, for a fitted codebook."""
        raise NotImplementedError

    def inertia(self, codebook, sample_weight=None) -> float:
        """Weighted sum of the rows' squared distances to their nearest codes (``score``), the weights checked."""
        self.check_sample_weight(sample_weight)
        return self.code_statistics(codebook).error

    def apply(self, function, *args, output: Output):
        """``function(rows, *args)``: at once, or block by block for lazy input."""
        raise NotImplementedError

    def average(self, function, *args, sample_weight=None) -> float:
        """Weighted mean of ``function(rows, *args)``, one value per row, the weights checked."""
        weights = self.check_sample_weight(sample_weight, dtype=np.float64)
        per_row = self.apply(function, *args, output=Output(None, np.float64))
        return float(np.average(np.asarray(to_host(per_row)), weights=weights))

    def wrap(self, result):
        """A result in the input's kind: a numpy array, a tensor on X's device, a dask array."""
        return to_host(result)


class InMemoryRows(Rows):
    """Rows held in memory (or memory-mapped) and read by the backend ``nx`` directly.

    Parameters
    ----------
    data : array, memmap, CSR matrix or tensor of shape (n_samples, n_features)
        The rows as the backend reads them.
    nx : NumpyBackend or TorchBackend
    dtype : numpy dtype
        Of the results.
    wrap : callable, default=None
        How results go back to the caller; numpy arrays (and CSR matrices) if None.
    """

    def __init__(self, data, nx, *, dtype, wrap=None):
        self.data, self.nx, self.dtype = data, nx, np.dtype(dtype)
        self.shape = tuple(data.shape)
        self._device_weights = None
        if wrap is not None:
            self.wrap = wrap

    def check_sample_weight(self, sample_weight, **kwargs) -> np.ndarray:
        self._device_weights = None
        return super().check_sample_weight(sample_weight, **kwargs)

    @property
    def device_weights(self):
        """``sample_weight`` on the backend (None before it is checked: unit weights)."""
        if self._device_weights is None and self.sample_weight is not None:
            self._device_weights = self.nx.asarray(self.sample_weight)
        return self._device_weights

    @property
    def entries_per_row(self) -> float:
        return entries_per_row(self.data)

    def moments(self, *, diagonal: bool = False) -> Moments:
        return Moments.of(self.data, self.device_weights, diagonal=diagonal)

    def init_input(self):
        return to_host(self.data)

    def source(self, batch_size: int | None = None):
        nx, X, weights = self.nx, self.data, self.device_weights
        if batch_size is None:
            x_sq_norms = nx.sq_norms(X)  # once per fit

            def read_all(codebook):
                return block_statistics(nx, X, codebook, weights, x_sq_norms)[0]

            return FullBatch(self.n_samples, read_all)

        def read(spans, codebook):
            rows = nx.rows(X, spans)
            return block_statistics(nx, rows, codebook, nx.rows(weights, spans))[0]

        return MiniBatches(self.n_samples, batch_size, read)

    def batch(self, dtype):
        nx, weights = self.nx, self.device_weights
        data = nx.asarray(self.data, dtype=dtype)
        return SingleBatch(
            self.n_samples,
            lambda codebook: block_statistics(nx, data, codebook, weights),
        )

    def code_statistics(self, codebook) -> CodeStatistics:
        codebook = self.codebook_here(codebook)
        return block_statistics(self.nx, self.data, codebook, self.device_weights)[0]

    def final_assignment(self, codebook):
        nx = self.nx
        final = nx.assign(self.data, codebook, sample_weight=self.device_weights)
        inertia = float(nx.sum(self.device_weights * final.sq_distances))
        return final.labels, inertia, np.unique(to_host(final.labels)).size

    def apply(self, function, *args, output: Output):
        return function(self, *args)

    # What inference functions ask of in-memory rows.
    def codebook_here(self, codebook):
        """``codebook`` on the backend, in the rows' dtype."""
        return self.nx.asarray(codebook, dtype=self.dtype)

    def labels(self, codebook):
        """Index of each row's nearest code (``codebook`` from ``codebook_here``)."""
        return self.nx.assign(self.data, codebook).labels

    def distances(self, codebook):
        """Euclidean distances from every row to every code."""
        return self.nx.distances(self.data, codebook)

    def quantized(self, codebook, labels):
        """Each row replaced by its code, in the input's kind."""
        return self.wrap(codebook[labels])


class EncodedRows(Rows):
    """An encoding to decode (``inverse_transform``'s input), held as given: the decoder checks it.

    Parameters
    ----------
    data : array-like, sparse matrix or host copy of a tensor
    wrap : callable, default=None
        How results go back to the caller; numpy arrays if None.
    """

    def __init__(self, data, wrap=None):
        self.data = data
        if wrap is not None:
            self.wrap = wrap

    def apply(self, function, *args, output: Output):
        return function(self, *args)
