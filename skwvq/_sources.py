"""Sources of row blocks for the solver's driver: all rows as one block, epochs of random mini-batches, one ``partial_fit`` batch.

A source has two methods: ``blocks(rng)`` yields the blocks of one epoch, and
``statistics(block, codebook)`` returns a block's ``CodeStatistics`` against the
current codebook. A source is a schedule of blocks over a *reader*, the
function that gives the statistics of some rows: the input adapter
(``skwvq._inputs``) supplies it, reading rows in memory, in spans of a memmap
or on a Dask cluster. The step and the driver only see statistics.
"""

from __future__ import annotations

import math

import numpy as np

_SPANS_PER_BATCH = 16


class FullBatch:
    """All rows as one block per epoch.

    Parameters
    ----------
    n_rows : int
    read : callable
        ``read(codebook)`` gives the ``CodeStatistics`` of all rows.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq._statistics import block_statistics
    >>> from skwvq.backends import backend_of
    >>> X = np.array([[0.0], [2.0]])
    >>> source = FullBatch(2, lambda C: block_statistics(backend_of(), X, C, None)[0])
    >>> [source.statistics(b, np.zeros((1, 1))).error for b in source.blocks(None)]
    [4.0]
    """

    n_blocks = 1

    def __init__(self, n_rows: int, read):
        self.n_rows, self.read = n_rows, read

    def blocks(self, rng):
        yield None

    def statistics(self, block, codebook):
        return self.read(codebook)


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
    """Epochs of random mini-batches of ``batch_size`` rows (see ``batch_spans``).

    Parameters
    ----------
    n_rows, batch_size : int
    read : callable
        ``read(spans, codebook)`` gives the ``CodeStatistics`` of the rows of a
        list of slices.
    """

    def __init__(self, n_rows: int, batch_size: int, read):
        self.n_rows, self.batch_size, self.read = n_rows, batch_size, read
        self.n_blocks = batch_count(n_rows, batch_size)

    def blocks(self, rng):
        return batch_spans(self.n_rows, self.batch_size, rng)

    def statistics(self, spans, codebook):
        return self.read(spans, codebook)


class SingleBatch(FullBatch):
    """One ``partial_fit`` batch as the only block of an epoch; keeps its labels and statistics.

    ``read(codebook)`` gives the batch's ``CodeStatistics`` and labels.
    """

    labels = last = None

    def statistics(self, block, codebook):
        self.last, self.labels = self.read(codebook)
        return self.last
