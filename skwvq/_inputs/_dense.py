"""Dense numpy input: arrays and memory maps, on the host or copied to the torch backend's device."""

from __future__ import annotations

import numpy as np

from ..backends import backend_of
from ._base import InMemoryRows


class DenseRows(InMemoryRows):
    """A validated dense array (or ``np.memmap``), placed where the backend reads it.

    The numpy backend reads the array where it is, so a memory map stays on
    disk; the torch backend copies it to its device when it fits there
    (``TorchBackend.place``). Host rows are read from the array itself.

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
        super().__init__(nx.place(X), nx)
        self.host = X
        self.dtype = X.dtype
        if wrap is not None:
            self.wrap = wrap

    def host_rows(self, index):
        return np.asarray(self.host[index], dtype=np.float64)

    def init_input(self):
        return self.host

    def on_host(self) -> DenseRows:
        if self.nx is backend_of():
            return self
        host = DenseRows(self.host, backend_of())
        host.sample_weight = self.sample_weight
        return host
