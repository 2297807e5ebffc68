"""
A codebook initialised far from the data
========================================

A codebook carried over from another model, or features that drift, can leave
the initial codes far from the data. Lloyd's rule then gives every row to the
few codes nearest to the data, and the others never move. Three quantizers
start here from the same 1,024 codes drawn from ``N(0, I)`` in 8 dimensions,
with the data 8 units away along every axis, ``N(8 * 1, I)``
(``skwvq.datasets.mismatched_gaussian``, the paper's atomic setting):

- ``MiniBatchKMeans`` without reassignment: online k-means, the rule of an EMA
  VQ layer in a tokenizer. Almost every code dies.
- ``KMeans``: Lloyd's rule, which moves each empty cluster to the row farthest
  from its centre. Every code ends up used, but unevenly.
- ``WassersteinVQ``: its optimal-transport step moves the codebook's
  distribution onto the data's, so the codes spread as the data do.
"""

import matplotlib.pyplot as plt
from sklearn.cluster import KMeans, MiniBatchKMeans

from skwvq import WassersteinVQ
from skwvq.datasets import mismatched_gaussian
from skwvq.plotting import plot_code_usage, plot_codebook

X, far_init = mismatched_gaussian(n_samples=20_000, n_clusters=1024, random_state=0)
quantizers = {
    "MiniBatchKMeans": MiniBatchKMeans(
        1024, init=far_init, n_init=1, reassignment_ratio=0, random_state=0
    ),
    "KMeans": KMeans(1024, init=far_init, n_init=1, max_iter=100),
    "WassersteinVQ": WassersteinVQ(1024, init=far_init, random_state=0),
}
for quantizer in quantizers.values():
    quantizer.fit(X)

# %%
# Each code's share of the data, most used first. Dead codes are shaded red
# (``MiniBatchKMeans``'s five live codes share all the data); the perplexity C
# counts the codes in effective use, 1,024 if every code served as many rows.
# The last codes of ``KMeans``, relocated to outlying rows, serve few rows each.

fig, axes = plt.subplots(1, 3, figsize=(13, 3.3), layout="constrained")
for ax, (name, quantizer) in zip(axes, quantizers.items()):
    plot_code_usage(quantizer, X, ax=ax, title=name)
plt.show()

# %%
# The codes over the data, on its first two principal axes:

fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
for ax, (name, quantizer) in zip(axes, quantizers.items()):
    plot_codebook(quantizer, X, ax=ax, title=name)
plt.show()
