"""Optimal-transport alignment: per-code transport targets for the Gaussian, sliced and exact methods."""

from __future__ import annotations

import numpy as np
import ot
from sklearn.neighbors import NearestNeighbors

from .backends import CHUNK_ROWS, get_backend, host_rows, slices, to_host

ALIGNMENTS = ("gaussian", "sliced", "exact")
TARGETS = ("quantization-optimal", "data")

# Exact OT solves an (ot_sample_size x n_codes) network-simplex problem every
# iteration. Past this many plan entries one solve takes tens of seconds on a
# laptop-class CPU (measured: 8192 x 2048 = 2**24 entries, ~9 s), so larger
# problems are refused with a pointer to the sliced method instead of hanging.
EXACT_MAX_PLAN_ENTRIES = 1 << 24
_DIRECTION_BLOCK = 64


# --------------------------------------------------------------------------- #
# Shared pieces: moments, symmetric square roots, data samples and their masses
# --------------------------------------------------------------------------- #
def _float64_weights(X, sample_weight):
    """The backend of X and its weights in float64 (ones if None)."""
    nx = get_backend(X, sample_weight)
    if sample_weight is None:
        return nx, nx.ones(X.shape[0], type_as=nx.float64(X[:1]))
    return nx, nx.float64(sample_weight)


def weighted_mean(X, sample_weight=None):
    """Weighted mean of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
    sample_weight : array or tensor of shape (n_samples,), default=None

    Returns
    -------
    array or tensor of shape (n_features,), on the backend of X

    Examples
    --------
    >>> import numpy as np
    >>> weighted_mean(np.array([[0.0], [4.0]]), np.array([3.0, 1.0]))
    array([1.])
    """
    nx, w = _float64_weights(X, sample_weight)
    chunks = slices(X.shape[0], CHUNK_ROWS)
    return sum(w[rows] @ nx.float64(X[rows]) for rows in chunks) / nx.sum(w)


def weighted_moments(X, sample_weight=None):
    """Weighted mean and covariance of the rows of ``X``, in float64, chunk by chunk.

    Parameters
    ----------
    X : array or tensor of shape (n_samples, n_features)
    sample_weight : array or tensor of shape (n_samples,), default=None

    Returns
    -------
    mean : array or tensor of shape (n_features,), on the backend of X
    cov : array or tensor of shape (n_features, n_features)
        Biased (maximum-likelihood) covariance, ``sum_i w_i (x_i - mean)(x_i - mean)^T / sum_i w_i``.

    Examples
    --------
    >>> import numpy as np
    >>> mean, cov = weighted_moments(np.array([[0.0, 1.0], [2.0, 1.0]]))
    >>> mean
    array([1., 1.])
    >>> cov
    array([[1., 0.],
           [0., 0.]])
    """
    nx, w = _float64_weights(X, sample_weight)
    mean = weighted_mean(X, w)
    cov = 0.0
    for rows in slices(X.shape[0], CHUNK_ROWS):
        centred = nx.float64(X[rows]) - mean
        cov = cov + centred.T @ (centred * w[rows, None])
    cov = cov / nx.sum(w)
    return mean, (cov + cov.T) / 2


def _sqrt_and_inv_sqrt_psd(S: np.ndarray, floor: float):
    """Square root of a symmetric PSD matrix and the inverse root with eigenvalues floored.

    Negative eigenvalues from rounding are clipped to zero (POT's ``sqrtm`` takes
    their square root and returns NaN, hence this helper).
    """
    nx = get_backend(S)
    eigval, eigvec = nx.eigh(S)
    root = nx.sqrt(nx.clip(eigval, 0.0, None))
    inv_root = 1.0 / nx.sqrt(nx.clip(eigval, floor, None))
    return (eigvec * root) @ eigvec.T, (eigvec * inv_root) @ eigvec.T


def _sqrtm_psd(S):
    return _sqrt_and_inv_sqrt_psd(S, 1.0)[0]


def gaussian_w2(mean_a, cov_a, mean_b, cov_b) -> float:
    """Squared 2-Wasserstein distance between two Gaussians, in the symmetric form.

    ``||m_a - m_b||^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2})``, with the
    square roots taken by ``eigh`` of symmetric matrices, so that rank-deficient
    covariances give a finite answer.

    Examples
    --------
    >>> import numpy as np
    >>> gaussian_w2(np.zeros(2), np.eye(2), np.array([3.0, 4.0]), np.eye(2))
    25.0
    """
    nx = get_backend(cov_a, cov_b)
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)
    bures = float(nx.trace(cov_a) + nx.trace(cov_b) - 2 * nx.trace(cross))
    return float(nx.sum((mean_a - mean_b) ** 2)) + max(bures, 0.0)


def ot_sample(X, sample_weight, size, rng):
    """Rows of ``X`` drawn once, without replacement, with OT masses summing to one.

    Masses are proportional to ``sample_weight``, so the weighted sample is an
    unbiased picture of the weighted data. The whole data set is used when
    ``size >= n_samples``.

    Returns
    -------
    sample : ndarray of shape (size, n_features), float64
    masses : ndarray of shape (size,), float64
    """
    n_samples = X.shape[0]
    if size >= n_samples:
        index = np.arange(n_samples)
    else:
        index = np.sort(rng.choice(n_samples, size=size, replace=False))
    sample = host_rows(X, index)
    masses = (
        np.ones(len(index))
        if sample_weight is None
        else np.asarray(to_host(sample_weight), dtype=np.float64)[index]
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
    k = min(n_neighbors, len(reference) - 1)
    if k < 1:
        return masses
    # sklearn's "auto" picks a k-d tree up to d=15, where brute force is already faster.
    algorithm = "kd_tree" if n_features <= 4 else "brute"
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


# --------------------------------------------------------------------------- #
# The three transport targets
# --------------------------------------------------------------------------- #
def gaussian_targets(codebook, data_mean, data_cov):
    """Monge map of the codebook's Gaussian fit onto the data's, applied to each code.

    ``t_k = mu_X + A (c_k - mu_C)`` with
    ``A = S_C^{-1/2} (S_C^{1/2} S_X S_C^{1/2})^{1/2} S_C^{-1/2}``, the map of
    ``ot.gaussian.bures_wasserstein_mapping`` computed in the symmetric form with
    the eigenvalues of ``S_C`` floored before inversion, so that a codebook with
    ``K <= d`` codes, or all codes equal, gives finite targets.

    Parameters
    ----------
    codebook : ndarray of shape (n_codes, n_features)
    data_mean : ndarray of shape (n_features,)
    data_cov : ndarray of shape (n_features, n_features)

    Returns
    -------
    targets : ndarray of shape (n_codes, n_features), float64
    w2 : float
        Squared 2-Wasserstein distance between the two Gaussian fits.

    Examples
    --------
    >>> import numpy as np
    >>> codebook = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    >>> # The codes have variance 1/2 per axis; the data 2: the map doubles spreads.
    >>> targets, w2 = gaussian_targets(codebook, np.array([5.0, 5.0]), 2 * np.eye(2))
    >>> targets
    array([[3., 5.],
           [7., 5.],
           [5., 3.],
           [5., 7.]])
    """
    nx = get_backend(codebook)
    codebook = nx.float64(codebook)
    data_mean, data_cov = nx.float64(data_mean), nx.float64(data_cov)
    n_features = codebook.shape[1]
    code_mean, code_cov = weighted_moments(codebook)
    scale = float(nx.trace(data_cov) + nx.trace(code_cov)) / n_features
    floor = 1e-8 * scale if scale > 0 else 1.0
    root, inv_root = _sqrt_and_inv_sqrt_psd(code_cov, floor)
    middle = _sqrtm_psd(root @ data_cov @ root)
    transform = inv_root @ middle @ inv_root
    targets = data_mean + (codebook - code_mean) @ transform
    bures = float(nx.trace(data_cov) + nx.trace(code_cov) - 2 * nx.trace(middle))
    w2 = float(nx.sum((data_mean - code_mean) ** 2)) + max(bures, 0.0)
    return targets, w2


def _quantile_integrals(sorted_values, sorted_masses, levels):
    """``G(u) = int_0^u Q(s) ds`` of each row's 1-D distribution, at ``levels``.

    ``G`` is piecewise linear between the cumulative masses, so linear
    interpolation between them is exact.
    """
    nx = get_backend(sorted_values)
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
    masses : array of shape (n_points,)
        Masses of the sample, summing to one.
    directions : array of shape (n_features, n_projections)
        Unit directions, e.g. from ``ot.sliced.get_random_projections``.
    n_codes : int

    Returns
    -------
    interval_moments : array of shape (n_projections, n_codes), float64
    second_moments : array of shape (n_projections,), float64
    """
    nx = get_backend(directions)
    directions = nx.float64(directions)
    sample, masses = nx.float64(sample), nx.float64(masses)
    n_projections = directions.shape[1]
    levels = nx.float64(np.arange(n_codes + 1) / n_codes)
    interval_moments, second_moments = [], []
    # Directions in blocks bound the temporaries (several block x n_points arrays)
    # whatever n_projections is.
    for start in range(0, n_projections, _DIRECTION_BLOCK):
        block = directions[:, start : start + _DIRECTION_BLOCK]
        # One row per direction, so that sorts and scans run over contiguous memory.
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
    nx = get_backend(codebook, directions)
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
    targets = codebook + (n_features / n_projections) * (gaps.T @ directions.T)
    w2 = n_features * max(float(nx.mean(w2_per_direction)), 0.0)
    return targets, w2


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
    sample : ndarray of shape (n_points, n_features)
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
    cost = ot.dist(sample, codebook)
    code_masses = np.full(n_codes, 1.0 / n_codes)
    plan = ot.emd(masses, code_masses, cost, numItermax=max(100_000, 20 * cost.size))
    targets = n_codes * (plan.T @ sample)
    return targets, float(np.sum(plan * cost))


# --------------------------------------------------------------------------- #
# Per-fit alignment objects: the data side prepared once, codes aligned each iteration
# --------------------------------------------------------------------------- #
class GaussianAlignment:
    """Gaussian (closed-form) alignment to fixed data moments."""

    def __init__(self, mean, cov):
        self.mean = mean
        self.cov = cov

    def __call__(self, codebook, rng):
        return gaussian_targets(codebook, self.mean, self.cov)


class SlicedAlignment:
    """Sliced alignment along directions drawn once per fit, data side precomputed.

    Fixing the directions lets the data's sorted projections be computed once;
    each iteration then costs ``O(L K (d + log K))``, independent of the sample
    size (fresh directions every iteration measured no better on E).
    """

    def __init__(self, sample, masses, n_codes, n_projections, rng, nx=None):
        nx = nx or get_backend()
        self.directions = nx.float64(
            ot.sliced.get_random_projections(sample.shape[1], n_projections, seed=rng)
        )
        self.interval_moments, self.second_moments = sliced_data_side(
            sample, masses, self.directions, n_codes
        )

    def __call__(self, codebook, rng):
        nx = get_backend(codebook)
        if get_backend(self.directions) is not nx:
            # A stream fed tensors and numpy arrays in turn: follow the codebook.
            self.directions, self.interval_moments, self.second_moments = (
                nx.float64(a)
                for a in (self.directions, self.interval_moments, self.second_moments)
            )
        return sliced_targets(
            codebook, self.directions, self.interval_moments, self.second_moments
        )


class ExactAlignment:
    """Exact alignment to a fixed weighted sample (so that J never increases)."""

    def __init__(self, sample, masses):
        self.sample = sample
        self.masses = masses

    def __call__(self, codebook, rng):
        # POT's network simplex runs on the CPU whatever the codebook's backend.
        nx = get_backend(codebook)
        targets, w2 = exact_targets(nx.to_numpy(codebook), self.sample, self.masses)
        return nx.float64(targets), w2


def default_ot_sample_size(alignment: str, n_codes: int, n_samples: int) -> int:
    """Data points in the OT sample: several per code, capped for exact OT's cost.

    Exact OT with as many points as codes overfits the sample (measured: 3% worse
    E than with four times as many), so exact uses ``4 K`` when the plan stays
    within ``EXACT_MAX_PLAN_ENTRIES``; sliced OT only sorts, so it affords
    ``max(8 K, 16384)``.
    """
    if alignment == "exact":
        size = max(4 * n_codes, 1024)
        size = min(size, max(n_codes, EXACT_MAX_PLAN_ENTRIES // n_codes))
    else:
        size = max(8 * n_codes, 16384)
    return min(size, n_samples)


def gaussian_alignment(mean, cov, *, target: str) -> GaussianAlignment:
    """Gaussian alignment to data moments, widened for the quantization-optimal target.

    A Gaussian ``p`` with covariance ``S`` has ``p^{d/(d+2)}`` Gaussian with
    covariance ``S (d+2)/d``.
    """
    if target == "quantization-optimal":
        n_features = len(mean)
        cov = cov * (n_features + 2) / n_features
    return GaussianAlignment(mean, cov)


def sample_alignment(
    alignment: str,
    sample,
    masses,
    *,
    n_codes: int,
    target: str,
    n_projections: int | None,
    rng,
    nx=None,
):
    """Sliced or exact alignment to a weighted data sample (reweighted for the target).

    The sliced data side is prepared on the backend ``nx`` (numpy if None); exact
    OT always runs on the CPU through POT.
    """
    if target == "quantization-optimal":
        masses = quantization_optimal_masses(sample, masses)
    if alignment == "sliced":
        if n_projections is None:
            n_projections = max(64, 2 * sample.shape[1])
        return SlicedAlignment(sample, masses, n_codes, n_projections, rng, nx)
    return ExactAlignment(sample, masses)


def make_alignment(
    alignment: str,
    X,
    sample_weight,
    *,
    n_codes: int,
    target: str,
    ot_sample_size: int,
    n_projections: int | None,
    rng,
    nx=None,
):
    """Prepare the data side of an alignment method once per fit.

    Parameters
    ----------
    alignment : {"gaussian", "sliced", "exact"}
    X : ndarray or tensor of shape (n_samples, n_features)
        In memory, memory-mapped or on a torch device: "gaussian" reads it once
        in chunks, the others read only the ``ot_sample_size`` rows of their sample.
    sample_weight : array or tensor of shape (n_samples,) or None
    n_codes : int
    target : {"quantization-optimal", "data"}
        Which distribution the codes are matched to: the data's own, or the
        distortion-optimal density ``p^{d/(d+2)}``.
    ot_sample_size : int
        Points in the sample for "sliced" and "exact"; see ``default_ot_sample_size``.
    n_projections : int or None
        Directions of the sliced method, drawn once; ``max(64, 2 d)`` if None.
    rng : numpy.random.RandomState
        The one source of random draws (sample rows, directions), whatever the backend.
    nx : NumpyBackend or TorchBackend, default=None
        Where the sliced data side is prepared; numpy if None.

    Returns
    -------
    callable
        ``alignment(codebook, rng) -> (targets, w2)``, with float64 targets on
        the codebook's backend.
    """
    if alignment == "gaussian":
        mean, cov = weighted_moments(X, sample_weight)
        return gaussian_alignment(mean, cov, target=target)
    sample, masses = ot_sample(X, sample_weight, ot_sample_size, rng)
    return sample_alignment(
        alignment,
        sample,
        masses,
        n_codes=n_codes,
        target=target,
        n_projections=n_projections,
        rng=rng,
        nx=nx,
    )
