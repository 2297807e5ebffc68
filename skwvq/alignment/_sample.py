"""The OT sample: rows drawn once per fit, and their masses under the quantization-optimal target."""

from __future__ import annotations

import numpy as np
from sklearn import config_context, get_config
from sklearn.neighbors import NearestNeighbors

from ..backends import sparse_nonzeros

# MB of distances the neighbour search holds at once (scikit-learn's default is
# 1024). On a sparse TF-IDF sample (16,384 x 50,000 rows, 0.1% dense) the search
# against 4,096 reference rows peaked at 1.08 GB with the default, as the sparse
# product behind each chunk of distances nearly fills, and 143 MB at 64 MB, in
# 1.3 s instead of 3.5 s; dense samples (d = 16 ... 256) took the same time.
_NEIGHBOR_WORKING_MEMORY = 64


def ot_sample(rows, size, rng):
    """Rows drawn once, without replacement, with OT masses summing to one.

    Masses are proportional to the rows' ``sample_weight`` (ones before it is
    checked), so the weighted sample is an unbiased picture of the weighted
    data. The whole data set is used when ``size >= n_samples``.

    Parameters
    ----------
    rows : skwvq._inputs.Rows
    size : int
    rng : numpy.random.RandomState

    Returns
    -------
    sample : ndarray or CSR matrix of shape (size, n_features), float64, on the host
    masses : ndarray of shape (size,), float64
    """
    n_samples = rows.n_samples
    if size >= n_samples:
        index = np.arange(n_samples)
    else:
        index = np.sort(rng.choice(n_samples, size=size, replace=False))
    sample = rows.host_rows(index)
    masses = (
        np.ones(len(index))
        if rows.sample_weight is None
        else np.asarray(rows.sample_weight, dtype=np.float64)[index]
    )
    return sample, masses / masses.sum()


def quantization_optimal_masses(
    sample, masses, n_neighbors: int = 10, max_reference: int = 4096
):
    """Reweight a sample of ``p`` so that it represents ``p^{d/(d+2)}``.

    The distortion-optimal density of codes for squared error is proportional to
    ``p(x)^{d/(d+2)}`` (Zador; Gersho). The sample is a uniform draw of the rows,
    whose density ``u`` is estimated from the distance ``r`` to each point's
    ``n_neighbors``-th neighbour (``u ~ r^{-d}``); the weighted density is
    ``p ~ w u``, so each point's mass becomes ``p^{d/(d+2)} / u ~ w^{d/(d+2)}
    r^{2d/(d+2)}``. Past ``max_reference`` points, neighbours are sought in an
    evenly spaced subset of the sample, which keeps the search ``O(M R d)``.

    Parameters
    ----------
    sample : ndarray of shape (n_points, n_features)
    masses : ndarray of shape (n_points,)
        Masses of the sample under ``p``, summing to one.
    n_neighbors : int, default=10
    max_reference : int, default=4096

    Returns
    -------
    ndarray of shape (n_points,)
        Masses under ``p^{d/(d+2)}``, summing to one.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> sample = rng.normal(size=(2000, 1))
    >>> masses = quantization_optimal_masses(sample, np.full(2000, 1 / 2000))
    >>> bool(masses[np.abs(sample[:, 0]) > 2].sum() > 0.0455)  # heavier tails than N(0, 1)
    True
    """
    n_points, n_features = sample.shape
    step = -(-n_points // max_reference)
    in_reference = np.arange(n_points) % step == 0
    reference = sample[in_reference]
    k = min(n_neighbors, reference.shape[0] - 1)
    if k < 1:
        return masses
    # sklearn's "auto" picks a k-d tree up to d=15, where brute force is already
    # faster; sparse rows take brute force only.
    dense = sparse_nonzeros(sample) is None
    algorithm = "kd_tree" if n_features <= 4 and dense else "brute"
    working_memory = min(get_config()["working_memory"], _NEIGHBOR_WORKING_MEMORY)
    with config_context(working_memory=working_memory):
        distances, _ = (
            NearestNeighbors(n_neighbors=k + 1, algorithm=algorithm)
            .fit(reference)
            .kneighbors(sample)
        )
    # A reference point finds itself first; the others count from their first neighbour.
    radius = np.where(in_reference, distances[:, k], distances[:, k - 1])
    positive = radius[radius > 0]
    if positive.size == 0:  # every point duplicated: no density to correct for
        return masses
    # Duplicated points have radius 0; give them the smallest positive radius.
    radius = np.maximum(radius, positive.min())
    exponent = n_features / (n_features + 2)
    with np.errstate(divide="ignore"):  # rows of zero weight keep zero mass
        log_mass = exponent * np.log(masses) + 2.0 * exponent * np.log(radius)
    reweighted = np.exp(log_mass - log_mass.max())
    return reweighted / reweighted.sum()
