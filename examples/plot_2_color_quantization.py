"""
Colour quantization of ``china.jpg``: KMeans and WassersteinVQ side by side
===========================================================================

Reducing an image to 32 colours is vector quantization in three dimensions:
every pixel is replaced by the nearest colour of a learned palette. Both
quantizers learn their palette from 10,000 random pixels, starting from the same
random pixels, and then recolour the whole image.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans
from sklearn.datasets import load_sample_image

from skwvq import WassersteinVQ
from skwvq.metrics import codebook_perplexity, quantization_error

image = load_sample_image("china.jpg").astype(np.float64) / 255
pixels = image.reshape(-1, 3)
rng = np.random.default_rng(0)
training = pixels[rng.choice(len(pixels), 10_000, replace=False)]
init = training[:32]

quantizers = {
    "KMeans": KMeans(32, init=init, n_init=1, random_state=0),
    "WassersteinVQ": WassersteinVQ(32, init=init, random_state=0),
}
for quantizer in quantizers.values():
    quantizer.fit(training)

# %%
# Each palette recolours all 273,000 pixels; the titles give the quantization
# error E (mean squared colour error) and the perplexity C, the effective
# number of colours in use.

fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
axes[0].imshow(image)
axes[0].set_title("original")
for ax, (name, quantizer) in zip(axes[1:], quantizers.items()):
    palette = quantizer.cluster_centers_
    recoloured = palette[quantizer.predict(pixels)].reshape(image.shape)
    error = quantization_error(pixels, palette)
    perplexity = codebook_perplexity(pixels, palette)
    ax.imshow(recoloured.clip(0, 1))
    ax.set_title(f"{name}: E = {error:.5f}, C = {perplexity:.1f}")
for ax in axes:
    ax.axis("off")
plt.show()

# %%
# The palettes, most used colour first:

fig, axes = plt.subplots(2, 1, figsize=(8, 1.6), layout="constrained")
for ax, (name, quantizer) in zip(axes, quantizers.items()):
    counts = np.bincount(quantizer.predict(pixels), minlength=32)
    palette = quantizer.cluster_centers_[np.argsort(-counts)]
    ax.imshow(palette[None].clip(0, 1), aspect="auto")
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_ylabel(name, rotation=0, ha="right", va="center")
plt.show()
