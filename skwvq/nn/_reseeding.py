"""The layer's re-seeding of dead codes: onto distinct feature rows of the batch (all ranks'), drawn uniformly."""

from __future__ import annotations

import numpy as np
import torch

from ._distributed import gather_rows


def reseed_on_batch(codebook, dead, features, weights, labels, rng):
    """``codebook`` with its ``dead`` codes moved onto distinct rows of the batch (all ranks'), drawn uniformly.

    Uniformly, not by k-means++ as the estimator re-seeds: k-means++ favours
    the rows the live codes serve worst, the tails of a batch, which the
    next batches seldom reach again; a uniform draw lands where features
    are dense and stay. Measured on the MNIST VQ-VAE at K = 4096
    (``benchmarks/vqvae.py``): 0.910 of the codes in use on the test set
    with k-means++ on the feature queue (one seed), 0.945-0.979 drawn
    uniformly from the batch (three seeds; 0.994-0.996 since
    ``alignment_weight`` is 0.02). Drawing from the batch just
    assigned also costs O(rows), where k-means++ assigned the queue to the
    codebook again, O(queue x K): at K = 4096 that was 49 of the layer's
    71 ms forward.
    """
    in_use = slice(None) if weights is None else weights > 0
    rows = features[in_use]
    # Rows already on a code would only duplicate it.
    off_code = ((rows.to(codebook.dtype) - codebook[labels[in_use]]) ** 2).sum(1) > 0
    rows = gather_rows(rows[off_code])
    n_placed = min(int(dead.sum()), rows.shape[0])
    if n_placed == 0:
        return codebook
    chosen = rng.choice(rows.shape[0], size=n_placed, replace=False)
    placed = codebook.clone()
    targets = torch.as_tensor(np.flatnonzero(dead)[:n_placed], device=placed.device)
    placed[targets] = rows[torch.as_tensor(chosen, device=rows.device)].to(placed)
    return placed
