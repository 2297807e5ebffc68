"""
The paper's mismatch sweep: how far can the initial codebook be?
================================================================

Fang et al. start the codebook from ``N(0, I)`` while the data follow
``N(mu * 1, I)``, and raise the shift ``mu``. Three quantizers start from the
same 512 codes at every shift:

- ``MiniBatchKMeans`` without reassignment, online k-means as an EMA VQ layer
  runs it: from a shift of one standard deviation its codes die, and from four
  on a handful of codes take all the data;
- ``KMeans``, whose Lloyd iterations move each empty cluster to an outlying row:
  every code ends up used, but unevenly (lower perplexity C);
- ``WassersteinVQ``, which moves the codebook's distribution onto the data's.

The error is shown relative to ``KMeans`` started from k-means++ on the same
points.
"""

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import NullFormatter, ScalarFormatter
from sklearn.cluster import KMeans, MiniBatchKMeans

from skwvq import WassersteinVQ
from skwvq.metrics import codebook_perplexity, quantization_error

n_features, n_codes = 8, 512
rng = np.random.default_rng(0)
noise = rng.normal(size=(10_000, n_features))
init = rng.normal(size=(n_codes, n_features))
shifts = [0, 1, 2, 4, 8]


def quantizers():
    return {
        "MiniBatchKMeans (no reassignment)": MiniBatchKMeans(
            n_codes, init=init, n_init=1, reassignment_ratio=0, random_state=0
        ),
        "KMeans (same init)": KMeans(n_codes, init=init, n_init=1, max_iter=100),
        "WassersteinVQ": WassersteinVQ(n_codes, init=init, random_state=0),
    }


reference = KMeans(n_codes, n_init=1, random_state=0).fit(noise)
reference_error = quantization_error(noise, reference.cluster_centers_)
scores = {name: [] for name in quantizers()}
for mu in shifts:
    X = noise + mu  # the same points, moved away from the codes
    for name, quantizer in quantizers().items():
        codes = quantizer.fit(X).cluster_centers_
        scores[name].append(
            (quantization_error(X, codes), codebook_perplexity(X, codes))
        )

# %%
# Error relative to k-means++ (log scale) and perplexity per code against the
# shift ``mu``:

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
for name, values in scores.items():
    error, perplexity = np.array(values).T
    axes[0].plot(shifts, error / reference_error, marker="o", label=name)
    axes[1].plot(shifts, perplexity / n_codes, marker="o", label=name)
    print(f"{name}: E / E(k-means++) at mu = 8: {error[-1] / reference_error:.3f}")
axes[0].set_yscale("log")
axes[0].yaxis.set_major_formatter(ScalarFormatter())
axes[0].yaxis.set_minor_formatter(NullFormatter())
axes[0].set_ylabel("E / E of k-means++")
axes[1].set_ylabel("perplexity C / K")
axes[1].set_ylim(0, 1.02)
for ax in axes:
    ax.set_xlabel("shift mu of the data from the initial codes")
axes[1].legend(loc="center right")
plt.show()
