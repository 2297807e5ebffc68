"""The plain straight-through and EMA VQ layers that ``skwvq compare`` and the benchmarks set beside ``skwvq.nn.WassersteinQuantizer``, and the loop that trains a layer on a feature matrix."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .backends import backend_of


def _nearest(z, codebook):
    """Index of the nearest code of every row: the torch backend's assignment kernel, as in skwvq's layer."""
    return backend_of(z).assign(z, codebook).labels


class StraightThroughVQ(nn.Module):
    """VQ-VAE's layer: the codebook a parameter trained by the optimizer on ``||sg(z) - q||^2``.

    Forward returns ``(quantized, indices, loss)`` as ``WassersteinQuantizer``;
    the loss is the codebook term plus ``commitment_weight * ||z - sg(q)||^2``.
    Nothing brings back a code that no feature reaches.
    """

    def __init__(self, init, commitment_weight: float = 0.25):
        super().__init__()
        self.codebook = nn.Parameter(torch.as_tensor(init, dtype=torch.float32).clone())
        self.commitment_weight = commitment_weight

    def forward(self, z):
        indices = _nearest(z.detach(), self.codebook.detach())
        q = self.codebook[indices]
        loss = ((z.detach() - q) ** 2).mean() + self.commitment_weight * (
            (z - q.detach()) ** 2
        ).mean()
        return q.detach() + (z - z.detach()), indices, loss


class EmaVQ(nn.Module):
    """VQ-VAE-2's layer: codes are exponential moving averages of their features' means.

    Counts and sums decay by ``decay`` per training forward; counts are
    Laplace-smoothed so that an unused code keeps its place (and stays unused).
    """

    def __init__(self, init, decay: float = 0.99, commitment_weight: float = 0.25):
        super().__init__()
        init = torch.as_tensor(init, dtype=torch.float32)
        self.register_buffer("codebook", init.clone())
        self.register_buffer("sums", init.clone())
        self.register_buffer("counts", torch.ones(init.shape[0]))
        self.decay, self.commitment_weight, self.eps = decay, commitment_weight, 1e-5

    def forward(self, z):
        indices = _nearest(z.detach(), self.codebook)
        if self.training:
            with torch.no_grad():
                counts = torch.bincount(indices, minlength=len(self.counts)).float()
                sums = torch.zeros_like(self.sums).index_add_(0, indices, z.detach())
                self.counts.mul_(self.decay).add_(counts, alpha=1 - self.decay)
                self.sums.mul_(self.decay).add_(sums, alpha=1 - self.decay)
                total = self.counts.sum()
                smoothed = (self.counts + self.eps) / (
                    total + len(self.counts) * self.eps
                )
                self.codebook.copy_(self.sums / (smoothed * total)[:, None])
        q = self.codebook[indices]
        loss = self.commitment_weight * ((z - q) ** 2).mean()
        return q + (z - z.detach()), indices, loss


def train_layer(
    layer: nn.Module,
    X: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 1024,
    seed: int = 0,
    learning_rate: float | None = None,
):
    """Train a VQ layer on the rows of ``X`` (no encoder) and return its codebook.

    Every epoch visits the rows once in random batches. Layers with
    parameters are trained by SGD at ``learning_rate`` on the loss they return.
    """
    features = torch.as_tensor(np.asarray(X, dtype=np.float32))
    parameters = [p for p in layer.parameters() if p.requires_grad]
    optimizer = (
        torch.optim.SGD(parameters, lr=learning_rate or 1.0) if parameters else None
    )
    rng = np.random.default_rng(seed)
    layer.train()
    for _ in range(epochs):
        order = torch.as_tensor(rng.permutation(features.shape[0]))
        for start in range(0, features.shape[0], batch_size):
            _, _, loss = layer(features[order[start : start + batch_size]])
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    return layer.codebook.detach().numpy().copy()
