"""Gaussian alignment: the closed-form Monge map between the Gaussian fits of codebook and data, the PSD square roots and the Gaussian W2 behind it."""

from __future__ import annotations

import numpy as np

from .._moments import weighted_moments
from ..backends import backend_of
from ..streaming import MomentStream, Reservoir
from ._base import Alignment, draw_support, support_size


def _sqrt_and_inv_sqrt_psd(S, floor: float):
    """Square root of a symmetric PSD matrix and the inverse root with eigenvalues floored.

    Negative eigenvalues from rounding are clipped to zero (POT's ``sqrtm`` takes
    their square root and returns NaN, hence this helper).
    """
    nx = backend_of(S)
    eigval, eigvec = nx.eigh(S)
    root = nx.sqrt(nx.clip(eigval, 0.0, None))
    inv_root = 1.0 / nx.sqrt(nx.clip(eigval, floor, None))
    return (eigvec * root) @ eigvec.T, (eigvec * inv_root) @ eigvec.T


def sqrtm_psd(S):
    """Square root of a symmetric PSD matrix (negative rounding eigenvalues clipped).

    Examples
    --------
    >>> import numpy as np
    >>> sqrtm_psd(np.diag([4.0, 9.0]))
    array([[2., 0.],
           [0., 3.]])
    """
    return _sqrt_and_inv_sqrt_psd(S, 1.0)[0]


def gaussian_w2(mean_a, cov_a, mean_b, cov_b, *, cross_trace=None):
    """Squared 2-Wasserstein distance between two Gaussians, in the symmetric form.

    ``||m_a - m_b||^2 + max(0, tr S_a + tr S_b - 2 tr (S_a^{1/2} S_b S_a^{1/2})^{1/2})``,
    with the square roots taken by ``eigh`` of symmetric matrices, so that
    rank-deficient covariances give a finite answer. The one formula behind the
    Gaussian alignment's W, ``skwvq.metrics.wasserstein_distance`` and the
    layer's ``gaussian_w2_loss``.

    Parameters
    ----------
    mean_a, cov_a, mean_b, cov_b : arrays or tensors
    cross_trace : scalar, default=None
        ``tr (S_a^{1/2} S_b S_a^{1/2})^{1/2}`` when the caller has it (the
        alignment's map computes that matrix; the layer's loss takes a
        differentiable form of it); computed here if None.

    Returns
    -------
    scalar on the arrays' backend (a 0-d tensor for tensors, differentiable)

    Examples
    --------
    >>> import numpy as np
    >>> float(gaussian_w2(np.zeros(2), np.eye(2), np.array([3.0, 4.0]), np.eye(2)))
    25.0
    """
    nx = backend_of(cov_a, cov_b)
    if cross_trace is None:
        root_a = sqrtm_psd(cov_a)
        cross_trace = nx.trace(sqrtm_psd(root_a @ cov_b @ root_a))
    bures = nx.trace(cov_a) + nx.trace(cov_b) - 2 * cross_trace
    return nx.sum((mean_a - mean_b) ** 2) + nx.clip(bures, 0.0, None)


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
    nx = backend_of(codebook)
    codebook = nx.float64(codebook)
    data_mean, data_cov = nx.float64(data_mean), nx.float64(data_cov)
    n_features = codebook.shape[1]
    code_mean, code_cov = weighted_moments(codebook)
    scale = float(nx.trace(data_cov) + nx.trace(code_cov)) / n_features
    floor = 1e-8 * scale if scale > 0 else 1.0
    root, inv_root = _sqrt_and_inv_sqrt_psd(code_cov, floor)
    middle = sqrtm_psd(root @ data_cov @ root)
    transform = inv_root @ middle @ inv_root
    targets = data_mean + (codebook - code_mean) @ transform
    w2 = gaussian_w2(
        code_mean, code_cov, data_mean, data_cov, cross_trace=nx.trace(middle)
    )
    return targets, float(w2)


class GaussianAlignment(Alignment):
    """Gaussian (closed-form) alignment to fixed data moments.

    Needs only the mean and covariance of the data (a reduction, so it streams
    and distributes exactly); blind to multimodal structure, hence the data
    target by default: its quantization-optimal variant is one wider Gaussian,
    measured worse on every data set of ``benchmarks/defaults.py``.

    Parameters
    ----------
    mean : array of shape (n_features,)
    cov : array of shape (n_features, n_features)
        The moments of the distribution the codes are matched to.

    Examples
    --------
    >>> import numpy as np
    >>> alignment = GaussianAlignment(np.array([5.0]), np.array([[4.0]]))
    >>> targets, w2 = alignment.targets(np.array([[-1.0], [1.0]]))
    >>> targets  # mean 5, standard deviation 2
    array([[3.],
           [7.]])
    """

    name = "gaussian"
    default_target = "data"
    needs_covariance = True

    def __init__(self, mean, cov):
        self.mean = mean
        self.cov = cov

    @classmethod
    def from_moments(cls, mean, cov, *, target: str) -> GaussianAlignment:
        """Alignment to data moments, widened for the quantization-optimal target.

        A Gaussian ``p`` with covariance ``S`` has ``p^{d/(d+2)}`` Gaussian with
        covariance ``S (d+2)/d``.
        """
        if target == "quantization-optimal":
            n_features = len(mean)
            cov = cov * (n_features + 2) / n_features
        return cls(mean, cov)

    @classmethod
    def from_data(
        cls, rows, *, n_codes, target, sample_size=None, n_projections=None, rng=None
    ):
        moments = rows.moments()
        alignment = cls.from_moments(moments.mean, moments.cov, target=target)
        alignment.support = draw_support(rows, n_codes, rng)
        return alignment

    @classmethod
    def data_stream(
        cls,
        *,
        n_codes,
        target,
        sample_size=None,
        n_projections=None,
        keep="uniform",
        support=True,
    ):
        reservoir = None
        if support:
            size = support_size(n_codes, np.iinfo(np.int64).max)
            reservoir = Reservoir(size, keep=keep, name="support")
        return MomentStream(cls, target=target, support=reservoir)

    def targets(self, codebook):
        return gaussian_targets(codebook, self.mean, self.cov)
