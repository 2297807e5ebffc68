"""Exact alignment: ``ot.emd`` between a data sample and the codes, and the limit on its size."""

from __future__ import annotations

import numpy as np
import ot
import scipy.sparse as sp

from ..backends import backend_of, dense, pairwise_sq_distances
from ._base import SampleAlignment

# Exact OT solves an (ot_sample_size x n_codes) network-simplex problem every
# iteration. Past this many plan entries one solve takes tens of seconds on a
# laptop-class CPU (measured: 8192 x 2048 = 2**24 entries, ~9 s), so larger
# problems are refused with a pointer to the sliced method instead of hanging.
EXACT_MAX_PLAN_ENTRIES = 1 << 24


def check_exact_size(
    n_points: int,
    n_codes: int,
    *,
    what: str = "alignment",
    size: str = "ot_sample_size",
) -> None:
    """Refuse exact OT problems too large to solve in reasonable time, naming the way out."""
    if n_points * n_codes <= EXACT_MAX_PLAN_ENTRIES:
        return
    smaller = (
        f", or a smaller {size}"
        if n_codes * n_codes <= EXACT_MAX_PLAN_ENTRIES and n_points > n_codes
        else ""
    )
    raise ValueError(
        f"{what}='exact' would solve a {n_points} x {n_codes} optimal-transport "
        f"problem ({n_points * n_codes:,} plan entries; the limit is "
        f"{EXACT_MAX_PLAN_ENTRIES:,}, about ten seconds a solve). Use "
        f"{what}='sliced', which scales to any number of codes{smaller}."
    )


def exact_targets(codebook, sample, masses):
    """Exact-OT targets: barycentric projection of ``ot.emd``'s plan onto the sample.

    ``t_k = K sum_i pi_ik x_i`` where ``pi`` is the optimal plan between the
    weighted sample and the uniformly weighted codes.

    Parameters
    ----------
    codebook : ndarray of shape (n_codes, n_features)
    sample : ndarray or sparse matrix of shape (n_points, n_features)
    masses : ndarray of shape (n_points,)
        Masses of the sample, summing to one.

    Returns
    -------
    targets : ndarray of shape (n_codes, n_features), float64
    w2 : float
        Squared 2-Wasserstein distance between the sample and the codes.

    Examples
    --------
    >>> import numpy as np
    >>> sample = np.array([[0.0], [10.0]])
    >>> targets, w2 = exact_targets(np.array([[9.0], [1.0]]), sample, np.array([0.5, 0.5]))
    >>> targets
    array([[10.],
           [ 0.]])
    >>> w2
    1.0
    """
    codebook = np.asarray(codebook, dtype=np.float64)
    n_codes = codebook.shape[0]
    check_exact_size(sample.shape[0], n_codes)
    cost = pairwise_sq_distances(sample, codebook)
    code_masses = np.full(n_codes, 1.0 / n_codes)
    plan = ot.emd(masses, code_masses, cost, numItermax=max(100_000, 20 * cost.size))
    # The plan has at most n_points + n_codes - 1 entries (a vertex of the
    # transport polytope), so its product with the sample is a sparse one:
    # dense, it was K x n_points x d flops, as much as the cost matrix again.
    plan = sp.csr_matrix(plan.T)
    targets = n_codes * np.asarray(dense(plan @ sample))
    w2 = float(plan.multiply(cost.T).sum())
    return targets, w2


class ExactAlignment(SampleAlignment):
    """Exact alignment to a fixed weighted sample (so that J never increases).

    Parameters
    ----------
    sample : ndarray of shape (n_points, n_features)
    masses : ndarray of shape (n_points,)
        Masses of the sample, summing to one.
    n_codes : int

    Examples
    --------
    >>> import numpy as np
    >>> sample = np.array([[0.0], [10.0]])
    >>> alignment = ExactAlignment(sample, np.array([0.5, 0.5]), n_codes=2)
    >>> alignment.targets(np.array([[9.0], [1.0]]))[0]
    array([[10.],
           [ 0.]])
    """

    name = "exact"
    # A network-simplex solve per training step would dwarf the step itself.
    for_layers = False

    def __init__(
        self, sample, masses, *, n_codes, n_projections=None, rng=None, nx=None
    ):
        check_exact_size(sample.shape[0], n_codes)
        self.sample = sample
        self.masses = masses

    @classmethod
    def default_sample_size(cls, n_codes, n_samples):
        """Several points per code, capped for the network simplex's cost.

        Exact OT with as many points as codes overfits the sample (measured: 3%
        worse E than with four times as many), so the sample has ``max(4 K,
        1024)`` points while the plan stays within ``EXACT_MAX_PLAN_ENTRIES``.
        """
        size = max(4 * n_codes, 1024)
        size = min(size, max(n_codes, EXACT_MAX_PLAN_ENTRIES // n_codes))
        return min(size, n_samples)

    @classmethod
    def check_size(cls, n_points, n_codes, **names):
        check_exact_size(n_points, n_codes, **names)

    def targets(self, codebook):
        # POT's network simplex runs on the CPU whatever the codebook's backend.
        nx = backend_of(codebook)
        targets, w2 = exact_targets(nx.to_numpy(codebook), self.sample, self.masses)
        return nx.float64(targets), w2
