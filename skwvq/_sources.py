"""Sources of row blocks for the solver's driver: all rows, random spans of a (memory-mapped) array, one batch (and, in ``skwvq._inputs._dask``, a Dask array's blocks).

A source has two methods: ``blocks(rng)`` yields the blocks of one epoch, and
``statistics(block, codebook)`` returns a block's ``CodeStatistics`` against the
current codebook. How the rows are read (whole, in spans of a memmap, from a
Dask cluster) is the source's business; the step and the driver only see
statistics. The input adapter (``skwvq._inputs``) hands each fit its source.
"""

from __future__ import annotations

import math

import numpy as np

from ._statistics import block_statistics

_SPANS_PER_BATCH = 16


class FullBatch:
    """All rows as one block per epoch, their squared norms computed once.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.backends import backend_of
    >>> X = np.array([[0.0], [2.0]])
    >>> source = FullBatch(backend_of(X), X, np.ones(2))
    >>> [source.statistics(b, np.zeros((1, 1))).error for b in source.blocks(None)]
    [4.0]
    """

    def __init__(self, nx, X, sample_weight):
        self.nx, self.X, self.sample_weight = nx, X, sample_weight
        self.n_rows = X.shape[0]
        self.x_sq_norms = nx.sq_norms(X)

    def blocks(self, rng):
        yield None

    def statistics(self, block, codebook):
        statistics, _ = block_statistics(
            self.nx, self.X, codebook, self.sample_weight, self.x_sq_norms
        )
        return statistics


def batch_spans(n_samples: int, batch_size: int, rng):
    """One epoch of mini-batches, each the union of 16 random contiguous spans.

    Every row is visited once per epoch. Spans rather than scattered rows keep
    reads sequential on a memory-mapped file (random rows would reread each page
    for every batch), while 16 random places per batch keep batches mixed even
    when the rows are sorted.

    Examples
    --------
    >>> import numpy as np
    >>> batches = list(batch_spans(10, 4, np.random.RandomState(0)))
    >>> sorted(i for spans in batches for s in spans for i in range(10)[s])
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    span = max(1, batch_size // _SPANS_PER_BATCH)
    starts = np.arange(0, n_samples, span)
    order = rng.permutation(len(starts))
    for first in range(0, len(order), _SPANS_PER_BATCH):
        chosen = np.sort(starts[order[first : first + _SPANS_PER_BATCH]])
        yield [slice(start, min(start + span, n_samples)) for start in chosen]


def batch_count(n_samples: int, batch_size: int) -> int:
    """Mini-batches in one epoch of ``batch_spans``.

    Examples
    --------
    >>> import numpy as np
    >>> batch_count(1000, 64) == len(list(batch_spans(1000, 64, np.random.RandomState(0))))
    True
    """
    span = max(1, batch_size // _SPANS_PER_BATCH)
    n_spans = math.ceil(n_samples / span)
    return math.ceil(n_spans / _SPANS_PER_BATCH)


class MiniBatches:
    """Epochs of random mini-batches of an array that may be memory-mapped (see ``batch_spans``)."""

    def __init__(self, nx, X, sample_weight, batch_size: int):
        self.nx, self.X, self.sample_weight = nx, X, sample_weight
        self.n_rows = X.shape[0]
        self.batch_size = batch_size
        self.n_blocks = batch_count(self.n_rows, batch_size)

    def blocks(self, rng):
        return batch_spans(self.n_rows, self.batch_size, rng)

    def statistics(self, spans, codebook):
        nx = self.nx
        statistics, _ = block_statistics(
            nx, nx.rows(self.X, spans), codebook, nx.rows(self.sample_weight, spans)
        )
        return statistics


class SingleBatch:
    """One ``partial_fit`` batch as the only block of an epoch; keeps its labels and statistics."""

    def __init__(self, nx, X, sample_weight):
        self.nx, self.X, self.sample_weight = nx, X, sample_weight
        self.n_rows = X.shape[0]
        self.labels = self.last = None

    def blocks(self, rng):
        yield None

    def statistics(self, block, codebook):
        self.last, self.labels = block_statistics(
            self.nx, self.X, codebook, self.sample_weight
        )
        return self.last
