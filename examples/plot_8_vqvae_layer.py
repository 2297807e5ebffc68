"""
A small VQ-VAE with the ``skwvq.nn`` layer
==========================================

``skwvq.nn.WassersteinQuantizer`` goes where a VQ layer stands in a tokenizer:
``quantized, indices, loss = vq(features)``, with a straight-through gradient.
Its codebook is moved by the estimator's own step on running statistics, which
keeps every code in use while the encoder's features move.

Here an encoder turns each 8 x 8 digit into 4 tokens of 8 features, the layer
quantizes them with 256 codes, and a decoder rebuilds the image. Beside it, the
same network with a plain straight-through VQ layer (codes trained by the
codebook loss, as in the original VQ-VAE) from the same start. Needs torch
(``pip install 'skwvq[torch]'``).
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

from skwvq.nn import WassersteinQuantizer

torch.manual_seed(0)
digits = torch.tensor(load_digits().data / 16.0, dtype=torch.float32)
train_digits, test = digits[:1500], digits[1500:]
n_tokens, dim, n_codes = 4, 8, 256


class PlainVQ(torch.nn.Module):
    """The original VQ-VAE layer: nearest code, codebook and commitment losses."""

    def __init__(self, init):
        super().__init__()
        self.codebook = torch.nn.Parameter(init.clone())

    def forward(self, z):
        indices = torch.cdist(z, self.codebook).argmin(dim=-1)
        q = self.codebook[indices]
        loss = ((q - z.detach()) ** 2).mean() + 0.25 * ((z - q.detach()) ** 2).mean()
        return z + (q - z).detach(), indices, loss


def train(layer, steps=1500):
    torch.manual_seed(0)
    encoder = torch.nn.Sequential(
        torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, n_tokens * dim)
    )
    decoder = torch.nn.Sequential(
        torch.nn.Linear(n_tokens * dim, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64)
    )
    parameters = [*encoder.parameters(), *decoder.parameters(), *layer.parameters()]
    optimizer = torch.optim.Adam(parameters, lr=2e-3)
    used = []
    for step in range(steps):
        x = train_digits[torch.randint(0, len(train_digits), (128,))]
        z = encoder(x).reshape(-1, n_tokens, dim)
        quantized, indices, vq_loss = layer(z)
        loss = ((decoder(quantized.reshape(-1, n_tokens * dim)) - x) ** 2).mean()
        optimizer.zero_grad()
        (loss + vq_loss).backward()
        optimizer.step()
        if step % 100 == 99:
            with torch.no_grad():  # nearest codes only: the test set trains nothing
                z = encoder(test).reshape(-1, dim)
                nearest = torch.cdist(z, layer.codebook.detach()).argmin(dim=1)
                used.append(nearest.unique().numel() / n_codes)
    layer.eval()
    with torch.no_grad():
        z = encoder(test).reshape(-1, n_tokens, dim)
        rebuilt = decoder(layer(z)[0].reshape(-1, n_tokens * dim))
    return np.array(used), rebuilt


init = torch.randn(n_codes, dim)
layers = {
    "WassersteinQuantizer": WassersteinQuantizer(
        dim, n_codes, init=init, random_state=0
    ),
    "plain straight-through VQ": PlainVQ(init),
}
results = {name: train(layer) for name, layer in layers.items()}
for name, (used, rebuilt) in results.items():
    error = ((rebuilt - test) ** 2).mean().item()
    print(
        f"{name}: {used[-1]:.0%} of the codes used on the test digits, "
        f"reconstruction error {error:.4f}"
    )

# %%
# Share of the codes that the test digits use, during training:

fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
for name, (used, _) in results.items():
    ax.plot(np.arange(1, len(used) + 1) * 100, used, marker=".", label=name)
ax.set_xlabel("training step")
ax.set_ylabel("codes in use (test set)")
ax.set_ylim(0, 1.05)
ax.legend()
plt.show()

# %%
# Test digits and their reconstructions through each layer's 4 tokens:

fig, axes = plt.subplots(3, 8, figsize=(8, 3.3), layout="constrained")
rows = [
    ("test digits", test),
    *((name, rebuilt) for name, (_, rebuilt) in results.items()),
]
for row, (name, images) in zip(axes, rows):
    for ax, image in zip(row, images[:8]):
        ax.imshow(image.reshape(8, 8).numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    row[0].set_ylabel(name.replace(" ", "\n", 1), fontsize=7, rotation=0, ha="right")
plt.show()
