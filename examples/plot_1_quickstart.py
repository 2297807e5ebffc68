"""
Quickstart: fit, look at the codes, read the history
====================================================

``WassersteinVQ`` is a scikit-learn estimator: ``fit`` learns a codebook,
``predict`` gives each row its code, ``transform`` replaces each row by its
code vector. Here it quantizes 5,000 points of a two-moons data set with 64
codes, and ``skwvq.plotting`` shows where the codes went and how the fit
converged.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import make_moons

from skwvq import WassersteinVQ
from skwvq.metrics import vq_scores
from skwvq.plotting import plot_codebook, plot_history

X, _ = make_moons(n_samples=5000, noise=0.08, random_state=0)
vq = WassersteinVQ(n_clusters=64, random_state=0).fit(X)

print(f"{vq.n_iter_} iterations")
print(vq_scores(vq, X))  # error E, utilization U, perplexity C, Wasserstein W

# %%
# Every code serves some of the data (no red crosses):

plot_codebook(vq, X)
plt.show()

# %%
# ``history_`` records, per iteration, the objective ``J = (1 - g) E + g W^2``,
# its two terms, the utilization, the perplexity and the alignment weight ``g``,
# which decays so that the fit ends as Lloyd's k-means:

plot_history(vq)
plt.show()

# %%
# The estimator works anywhere a scikit-learn transformer does:

codes = vq.predict(X[:5])
quantized = vq.transform(X[:5])
print(codes)
print(quantized.round(3))
