"""
Choosing the codebook size with ``GridSearchCV``: a rate–distortion curve
=========================================================================

The quantization error E always falls as the codebook grows, so "the best K"
is a trade-off between rate (``log2 K`` bits per row) and distortion (E).
``skwvq.metrics.vq_scores`` scores every candidate on held-out rows, and a
callable ``refit`` picks the smallest K whose error is within 10% of the best.
The data: scikit-learn's handwritten digits (1,797 images of 8 x 8 pixels).
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV

from skwvq import WassersteinVQ
from skwvq.metrics import vq_scores

X = load_digits().data / 16.0
sizes = [4, 8, 16, 32, 64, 128, 256]


def smallest_good_k(cv_results):
    """Index of the smallest K whose held-out error is within 10% of the lowest."""
    errors = -np.asarray(cv_results["mean_test_neg_quantization_error"])
    ks = np.asarray(cv_results["param_n_clusters"], dtype=int)
    good = np.flatnonzero(errors <= 1.1 * errors.min())
    return int(good[np.argmin(ks[good])])


search = GridSearchCV(
    WassersteinVQ(random_state=0, max_iter=50),
    {"n_clusters": sizes},
    scoring=vq_scores,
    refit=smallest_good_k,
    cv=3,
).fit(np.random.default_rng(0).permutation(X))
print("chosen:", search.best_params_)

# %%
# Held-out error against bits per row, and the perplexity C (the effective
# number of codes in use) against K: every code of every size is used.

results = search.cv_results_
error = -results["mean_test_neg_quantization_error"]
perplexity = results["mean_test_perplexity"]
bits = np.log2(sizes)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
axes[0].plot(bits, error, marker="o")
chosen = search.best_index_
axes[0].plot(bits[chosen], error[chosen], "o", color="tab:red", label="chosen K")
axes[0].set_xlabel("rate: log2 K bits per row")
axes[0].set_ylabel("held-out error E")
axes[0].legend()
axes[1].loglog(sizes, perplexity, marker="o", base=2, label="perplexity C")
axes[1].loglog(sizes, sizes, "--", color="0.5", base=2, label="C = K")
axes[1].set_xlabel("K")
axes[1].legend()
plt.show()
