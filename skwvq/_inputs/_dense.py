"""Dense numpy input: arrays and memory maps, on the host or copied to the torch backend's device."""

from __future__ import annotations

import numpy as np

from ..backends import CHUNK_ROWS, backend_of
from ..kernels import slices
from ._base import InMemoryRows

# numpy rows are copied to a GPU whole when they take at most this fraction of
# its free memory; larger rows stay on the host and travel chunk by chunk.
_RESIDENT_FRACTION = 0.5


def place(X, nx):
    """numpy rows where the backend reads them.

    The numpy backend reads them where they are (a memory map stays on disk);
    the torch backend's CPU takes them as a tensor sharing their memory, and a
    GPU a copy when they fit in half its free memory.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((3, 2))
    >>> place(X, backend_of()) is X
    True
    """
    if nx is backend_of():
        return X
    if nx.device.type == "cpu":
        return nx.asarray(X)
    torch = nx.torch
    if nx.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(nx.device)
        if X.shape[0] * X.shape[1] * X.dtype.itemsize > _RESIDENT_FRACTION * free:
            return X
    placed = torch.empty(X.shape, dtype=getattr(torch, X.dtype.name), device=nx.device)
    for rows in slices(X.shape[0], CHUNK_ROWS):
        placed[rows] = nx.asarray(np.asarray(X[rows]))
    return placed


class DenseRows(InMemoryRows):
    """A validated dense array (or ``np.memmap``), placed where the backend reads it.

    The numpy backend reads the array where it is, so a memory map stays on
    disk; the torch backend copies it to its device when it fits there
    (``place``). Host rows are read from the array itself.

    Parameters
    ----------
    X : ndarray or memmap of shape (n_samples, n_features), float32 or float64
    nx : NumpyBackend or TorchBackend
    wrap : callable, default=None
        How results go back to the caller; numpy arrays if None (a tensor
        computed on the numpy backend comes back as a tensor).

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.backends import backend_of
    >>> rows = DenseRows(np.arange(6.0).reshape(3, 2), backend_of())
    >>> rows.host_rows(np.array([2, 0]))
    array([[4., 5.],
           [0., 1.]])
    """

    def __init__(self, X, nx, wrap=None):
        super().__init__(place(X, nx), nx, dtype=X.dtype, wrap=wrap)
        self.host = X

    def host_rows(self, index):
        return np.asarray(self.host[index], dtype=np.float64)

    def init_input(self):
        return self.host

    def on_host(self) -> DenseRows:
        if self.nx is backend_of():
            return self
        return host_rows_of(self.host, self.sample_weight)


def host_rows_of(X, sample_weight) -> DenseRows:
    """Host (numpy) rows of the numpy backend holding ``X``, with ``sample_weight``."""
    host = DenseRows(X, backend_of())
    host.sample_weight = sample_weight
    return host
