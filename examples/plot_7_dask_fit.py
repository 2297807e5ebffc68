"""
Fitting on a Dask array
=======================

``fit`` accepts a ``dask.array``: the blocks stay where they are, a first pass
checks them and gathers their moments, and each iteration sends the codebook to
the blocks and brings back ``K x (d + 2)`` numbers. The codebook is the one the
numpy fit gives on the same rows, whatever the chunking, and ``predict`` maps
the blocks lazily. This example runs on Dask's threaded scheduler; connect a
``distributed.Client`` first and the same code runs on its cluster
(see the scaling page). Needs ``pip install 'skwvq[dask]'``.
"""

import dask.array as da
import matplotlib.pyplot as plt
import numpy as np

from skwvq import WassersteinVQ
from skwvq.plotting import plot_history

rng = np.random.default_rng(0)
X_numpy = rng.normal(size=(100_000, 8)).astype(np.float32)
X = da.from_array(X_numpy, chunks=(25_000, 8))  # four blocks

vq = WassersteinVQ(n_clusters=128, random_state=0).fit(X)
labels = vq.predict(X)  # lazy
print(type(labels).__name__, labels.chunks[0])
print("first labels:", labels[:8].compute())

# %%
# The same estimator on the numpy array in memory learns the same codebook:

in_memory = WassersteinVQ(n_clusters=128, random_state=0).fit(X_numpy)
gap = np.abs(vq.codebook_ - in_memory.codebook_).max()
print(f"largest difference between the two codebooks: {gap:.2e}")

plot_history(vq, keys=["E", "U", "alignment_weight"])
plt.show()
