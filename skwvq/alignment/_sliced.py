"""Sliced alignment: exact 1-D transport along random directions, the data side sorted once per fit."""

from __future__ import annotations

import numpy as np
import ot

from ..backends import backend_of, sparse_nonzeros
from ._base import SampleAlignment

_DIRECTION_BLOCK = 64
# The directions take at most this many entries (128 MiB in float64): the
# default 2d directions would take more past d = 2896 features, and each
# iteration's two products with the codebook grow as directions x d x K.
MAX_DIRECTION_ENTRIES = 1 << 24


def default_n_projections(sample) -> int:
    """Directions of the sliced alignment when ``n_projections`` is None.

    ``max(64, 2 d)``, with at most ``MAX_DIRECTION_ENTRIES`` entries in the
    direction matrix; for a sparse sample also at most ``nnz / d`` (its stored
    entries per feature), so that projecting the codes, ``O(L d K)``, costs no
    more than assigning the sparse rows, ``O(nnz K)``.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> default_n_projections(np.zeros((1000, 8))), default_n_projections(np.zeros((10, 784)))
    (64, 1568)
    >>> sample = sp.random(2000, 5000, density=0.001, random_state=0)  # 2 entries per feature
    >>> default_n_projections(sample), default_n_projections(sample.toarray())
    (64, 3355)
    """
    n_features = sample.shape[1]
    n_projections = min(2 * n_features, MAX_DIRECTION_ENTRIES // n_features)
    nonzeros = sparse_nonzeros(sample)
    if nonzeros is not None:
        n_projections = min(n_projections, nonzeros // n_features)
    return max(64, n_projections)


def random_directions(n_features: int, n_projections: int, rng):
    """Unit directions, ``(n_features, n_projections)``: orthonormal when there are at most ``n_features``.

    POT's ``ot.sliced.get_random_projections`` draws them; fewer directions
    than features are then orthonormalised (still uniformly distributed), so
    that moving a code by its 1-D gaps along each moves it by exactly those
    gaps, as ``sliced_targets`` assumes.

    Examples
    --------
    >>> import numpy as np
    >>> directions = random_directions(100, 5, np.random.RandomState(0))
    >>> bool(np.allclose(directions.T @ directions, np.eye(5)))
    True
    """
    directions = ot.sliced.get_random_projections(n_features, n_projections, seed=rng)
    if n_projections < n_features:
        q, r = np.linalg.qr(directions)
        directions = q * np.sign(np.diag(r))
    return directions


def _quantile_integrals(sorted_values, sorted_masses, levels):
    """``G(u) = int_0^u Q(s) ds`` of each row's 1-D distribution, at ``levels``.

    ``G`` is piecewise linear between the cumulative masses, so linear
    interpolation between them is exact.
    """
    nx = backend_of(sorted_values)
    n_rows, n_points = sorted_values.shape
    zero = nx.zeros((n_rows, 1), type_as=sorted_values)
    cum_mass = nx.concatenate([zero, nx.cumsum(sorted_masses, axis=1)], axis=1)
    cum_moment = nx.concatenate(
        [zero, nx.cumsum(sorted_masses * sorted_values, axis=1)], axis=1
    )
    queries = zero + levels[None, :]
    upper = nx.clip(nx.searchsorted(cum_mass, queries, side="right"), 1, n_points)
    lower = upper - 1
    mass_low = nx.take_along_axis(cum_mass, lower, 1)
    width = nx.take_along_axis(cum_mass, upper, 1) - mass_low
    moment_low = nx.take_along_axis(cum_moment, lower, 1)
    rise = nx.take_along_axis(cum_moment, upper, 1) - moment_low
    has_width = width > 0
    fraction = nx.where(
        has_width, (queries - mass_low) / nx.where(has_width, width, 1.0), 0.0
    )
    return moment_low + nx.clip(fraction, 0.0, 1.0) * rise


def sliced_data_side(sample, masses, directions, n_codes):
    """The data's half of sliced OT against ``n_codes`` uniform codes, per direction.

    For each direction, the integral of the data's quantile function over each
    interval ``[r/K, (r+1)/K]`` (``K`` times it is the barycentric target of the
    code of rank ``r``) and the data's second moment along it. Computed once per
    fit, on the backend of ``directions``: each iteration then only projects and
    sorts the codes.

    Parameters
    ----------
    sample : array of shape (n_points, n_features)
        A numpy sample may be sparse (CSR); it is never densified.
    masses : array of shape (n_points,)
        Masses of the sample, summing to one.
    directions : array of shape (n_features, n_projections)
        Unit directions, e.g. from ``random_directions``.
    n_codes : int

    Returns
    -------
    interval_moments : array of shape (n_projections, n_codes), float64
    second_moments : array of shape (n_projections,), float64
    """
    nx = backend_of(directions)
    directions = nx.float64(directions)
    sample = nx.float64(sample)  # a sparse sample stays CSR, on the host
    masses = nx.float64(masses)
    n_projections = directions.shape[1]
    levels = nx.float64(np.arange(n_codes + 1) / n_codes)
    interval_moments, second_moments = [], []
    # Directions in blocks bound the temporaries (several block x n_points arrays)
    # whatever n_projections is.
    for start in range(0, n_projections, _DIRECTION_BLOCK):
        block = directions[:, start : start + _DIRECTION_BLOCK]
        # One row per direction, so that sorts and scans run along rows (for a
        # sparse sample scipy computes (sample @ block).T: strided rows, which
        # cost 17 ms more per block at 16,384 points, once per fit).
        data_proj = block.T @ sample.T
        order = nx.argsort(data_proj, axis=1)
        sorted_data = nx.take_along_axis(data_proj, order, 1)
        sorted_masses = masses[order]
        integrals = _quantile_integrals(sorted_data, sorted_masses, levels)
        interval_moments.append(integrals[:, 1:] - integrals[:, :-1])
        second_moments.append(nx.sum(sorted_masses * sorted_data**2, axis=1))
    return nx.concatenate(interval_moments), nx.concatenate(second_moments)


def sliced_targets(codebook, directions, interval_moments, second_moments):
    """Sliced-OT targets: exact 1-D transport along each direction, averaged back.

    On every direction the codes are sorted and the code of rank ``r`` is matched
    to the data's quantile interval ``[r/K, (r+1)/K]``; its 1-D target is the mean
    of the data's quantile function there. Each code moves along the directions
    by its gaps, scaled by ``d / L`` so that the step matches the full-dimensional
    one (``E[theta theta^T] = I/d``): ``t_k = c_k + (d/L) sum_l gap_kl theta_l``.
    With fewer directions than features (``L < d``, orthonormal directions from
    ``random_directions``) the scale is 1: the code moves by exactly its gaps
    within their span.

    Parameters
    ----------
    codebook : array of shape (n_codes, n_features)
    directions : array of shape (n_features, n_projections)
    interval_moments, second_moments : arrays
        The data side, from ``sliced_data_side``, on the codebook's backend.

    Returns
    -------
    targets : array of shape (n_codes, n_features), float64
    w2 : float
        ``d`` times the sliced squared 2-Wasserstein distance (mean over directions
        of the exact 1-D squared distances): equal to ``W2^2`` for a translation
        when averaged over directions.

    Examples
    --------
    >>> import numpy as np
    >>> sample, directions = np.array([[2.0], [4.0]]), np.ones((1, 1))
    >>> data_side = sliced_data_side(sample, np.array([0.5, 0.5]), directions, 2)
    >>> targets, w2 = sliced_targets(np.array([[0.0], [1.0]]), directions, *data_side)
    >>> targets
    array([[2.],
           [4.]])
    >>> w2
    6.5
    """
    nx = backend_of(codebook, directions)
    codebook = nx.float64(codebook)
    n_codes, n_features = codebook.shape
    n_projections = directions.shape[1]
    code_proj = directions.T @ codebook.T
    code_order = nx.argsort(code_proj, axis=1)
    sorted_codes = nx.take_along_axis(code_proj, code_order, 1)
    sorted_gaps = n_codes * interval_moments - sorted_codes
    # The argsort of a permutation is its inverse: it puts the gaps back in code order.
    gaps = nx.take_along_axis(sorted_gaps, nx.argsort(code_order, axis=1), 1)
    w2_per_direction = (
        second_moments
        - 2 * nx.sum(sorted_codes * interval_moments, axis=1)
        + nx.sum(sorted_codes**2, axis=1) / n_codes
    )
    scale = min(n_features, n_projections) / n_projections
    targets = codebook + scale * (gaps.T @ directions.T)
    w2 = n_features * max(float(nx.mean(w2_per_direction)), 0.0)
    return targets, w2


class SlicedAlignment(SampleAlignment):
    """Sliced alignment along directions drawn once per fit, data side precomputed.

    Fixing the directions lets the data's sorted projections be computed once;
    each iteration then costs ``O(L K (d + log K))``, independent of the sample
    size (fresh directions every iteration measured no better on E).

    Parameters
    ----------
    sample : array of shape (n_points, n_features)
    masses : array of shape (n_points,)
        Masses of the sample, summing to one.
    n_codes : int
    n_projections : int, default=None
        Directions; ``default_n_projections(sample)`` if None: ``max(64, 2
        n_features)``, fewer past 2896 features and for sparse samples.
    rng : numpy.random.RandomState
        Draws the directions.
    nx : NumpyBackend or TorchBackend, default=None
        Where the data side is kept; numpy if None.

    Examples
    --------
    >>> import numpy as np
    >>> sample = np.array([[2.0], [4.0]])
    >>> alignment = SlicedAlignment(
    ...     sample, np.array([0.5, 0.5]), n_codes=2, rng=np.random.RandomState(0)
    ... )
    >>> alignment.targets(np.array([[0.0], [1.0]]))[0]
    array([[2.],
           [4.]])
    """

    name = "sliced"

    def __init__(
        self, sample, masses, *, n_codes, n_projections=None, rng=None, nx=None
    ):
        nx = nx or backend_of()
        if n_projections is None:
            n_projections = default_n_projections(sample)
        self.directions = nx.float64(
            random_directions(sample.shape[1], n_projections, rng)
        )
        self.interval_moments, self.second_moments = sliced_data_side(
            sample, masses, self.directions, n_codes
        )

    @classmethod
    def default_sample_size(cls, n_codes, n_samples):
        """``max(8 K, 16384)`` points: sliced OT only sorts, so it affords many."""
        return min(max(8 * n_codes, 16384), n_samples)

    def targets(self, codebook):
        nx = backend_of(codebook)
        if backend_of(self.directions) is not nx:
            # A stream fed tensors and numpy arrays in turn: follow the codebook.
            self.directions, self.interval_moments, self.second_moments = (
                nx.float64(a)
                for a in (self.directions, self.interval_moments, self.second_moments)
            )
        return sliced_targets(
            codebook, self.directions, self.interval_moments, self.second_moments
        )
