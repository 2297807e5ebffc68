"""The layer's data side: the alignment's stream (``skwvq.streaming``), its arrays kept in the layer's buffers, fed with every rank's features.

The same stream classes serve ``partial_fit``; here the Gaussian alignment's
moments forget at the layer's rate and are summed over the ranks, and the
sliced alignment's reservoir keeps the most recent features of all ranks.
Neither keeps a support: the layer re-seeds dead codes on its batch.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import torch

from .._moments import Moments
from ._distributed import distributed, gather_rows, sum_over_ranks


class BufferState(MutableMapping):
    """Named buffers of a module, as the state mapping of a stream.

    Reads and writes go through the module's attributes, so the stream always
    sees the buffers the module holds now (after ``.to(device)`` or
    ``load_state_dict``), and what it writes is in the next ``state_dict``.
    """

    def __init__(self, module, names):
        self.module, self.names = module, tuple(names)

    def __getitem__(self, name):
        return getattr(self.module, name)

    def __setitem__(self, name, value):
        setattr(self.module, name, value)

    def __delitem__(self, name):
        raise TypeError("a layer's buffers are not deleted")

    def __iter__(self):
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class LayerDataSide:
    """The data side of a layer's alignment, over the layer's buffers.

    Parameters
    ----------
    method : type of skwvq.alignment.Alignment
    codebook_size : int
    target : str
    queue_size : int
        Recent features kept for a sample alignment (all ranks' together).
    n_projections : int or None
    """

    def __init__(self, method, *, codebook_size, target, queue_size, n_projections):
        self.queue_size = queue_size
        self.stream = method.data_stream(
            n_codes=codebook_size,
            target=target,
            sample_size=queue_size,
            n_projections=n_projections,
            keep="recent",
            support=False,
        )
        self.names = ()

    def register(self, module, dim: int) -> None:
        """Register the stream's arrays as buffers of ``module`` (fixed shapes, for ``state_dict``)."""
        state = self.stream.start(dim, like=torch.zeros(0), fixed=True)
        for name, array in state.items():
            module.register_buffer(name, array)
        self.names = tuple(state)

    def state(self, module) -> BufferState:
        return BufferState(module, self.names)

    def observe(self, module, rows, retain: float) -> None:
        """Fold this rank's feature ``rows`` (in use) and every other rank's into the stream."""
        state = self.state(module)
        if self.stream.needs_moments:
            moments = Moments.of(rows)
            if distributed():
                moments = moments.reduced(sum_over_ranks)
            self.stream.add(state, moments=moments, retain=retain)
        else:
            # The reservoir keeps the most recent rows: older ones need not travel.
            self.stream.add(state, gather_rows(rows)[-self.queue_size :])

    def alignment(self, module, *, rng, nx):
        """The alignment to the stream so far (a sample's is rebuilt once renewed)."""
        return self.stream.alignment(self.state(module), rng=rng, nx=nx)

    def moments(self, module) -> Moments:
        """The running feature moments (of a moment stream)."""
        return self.stream.moments(self.state(module))
