"""The layer's collectives under ``torch.distributed``: sums and gathers over the ranks, and one seed for all of them.

Outside a process group of more than one rank every function is the identity,
so one process runs the same code as a group.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from .._statistics import CodeStatistics


def distributed() -> bool:
    """Whether a process group of more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sum_over_ranks(tensor):
    """The sum of ``tensor`` over the ranks (a new tensor; ``tensor`` itself outside a group)."""
    if not distributed():
        return tensor
    total = tensor.clone()
    dist.all_reduce(total)
    return total


def gather_rows(rows):
    """Every rank's rows, concatenated in rank order (ranks may hold none)."""
    if not distributed():
        return rows
    world = dist.get_world_size()
    size = torch.tensor([rows.shape[0]], device=rows.device)
    sizes = [torch.zeros_like(size) for _ in range(world)]
    dist.all_gather(sizes, size)
    sizes = [int(s) for s in sizes]
    padded = rows.new_zeros((max(sizes), rows.shape[1]))
    padded[: rows.shape[0]] = rows
    gathered = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([g[:s] for g, s in zip(gathered, sizes)])


def shared_generator(rng, device) -> np.random.RandomState:
    """A generator seeded from rank 0's ``rng``, the same on every rank.

    Drawn alone too, so that one process follows the same draws as a group.
    """
    seed = torch.tensor([rng.randint(np.iinfo(np.int32).max)], device=device)
    if distributed():
        dist.broadcast(seed, src=0)
    return np.random.RandomState(int(seed.item()))


def statistics_over_ranks(statistics: CodeStatistics) -> CodeStatistics:
    """Per-code statistics summed over the ranks."""
    if not distributed():
        return statistics
    scalars = torch.tensor(
        [statistics.error, statistics.weight, statistics.rows],
        dtype=torch.float64,
        device=statistics.counts.device,
    )
    counts, sums = sum_over_ranks(statistics.counts), sum_over_ranks(statistics.sums)
    error, weight, rows = sum_over_ranks(scalars).tolist()
    return CodeStatistics(counts, sums, error, weight, int(rows))
