"""One rank of the two-process ``torch.distributed`` (gloo) run of tests/test_nn.py.

Usage: ``python ddp_worker.py RANK WORLD PORT OUT.npz ALIGNMENT``. Every rank
trains the layer on its share of the same batches as ``training_batches`` and
saves its codebook and statistics; rank 1 gets an empty batch and a fully
masked one on the way, which must not hang the other rank.
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.distributed as dist

from skwvq.nn import WassersteinQuantizer

N_STEPS, BATCH, DIM, CODES = 12, 64, 4, 16


def training_batches():
    """The batches of the single-process run, and each one's split between two ranks (rank 0's rows first)."""
    rng = np.random.default_rng(0)
    batches = []
    for step in range(N_STEPS):
        batch = torch.as_tensor(
            rng.normal(size=(BATCH, DIM)) + 3.0, dtype=torch.float32
        )
        # Rank 1's share of step 4 is empty, of step 7 fully masked.
        split = BATCH if step in (4, 7) else BATCH // 2
        batches.append((batch, split))
    return batches


def make_layer(alignment: str) -> WassersteinQuantizer:
    return WassersteinQuantizer(
        DIM, CODES, alignment=alignment, random_state=0, queue_size=256
    )


def main(rank: int, world: int, port: int, out: str, alignment: str) -> None:
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    try:
        layer = make_layer(alignment)
        for step, (batch, split) in enumerate(training_batches()):
            share = batch[:split] if rank == 0 else batch[split:]
            mask = None
            if step == 7 and rank == 1:
                share = torch.randn(5, DIM)
                mask = torch.zeros(5, dtype=torch.bool)
            if mask is None:
                layer(share)
            else:
                layer(share[None], mask=mask[None])
        np.savez(
            out,
            codebook=layer.codebook.detach().numpy(),
            usage=layer.usage.numpy(),
            running_counts=layer.running_counts.numpy(),
        )
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
