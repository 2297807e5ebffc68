"""What every alignment method implements, and the two kinds of data side it keeps: moments or a sample."""

from __future__ import annotations

import copy

from sklearn.utils import check_random_state

from .._moments import Moments, moments_of
from ..backends import to_host
from ..streaming import Reservoir
from ._sample import ot_sample, quantization_optimal_masses

TARGETS = ("quantization-optimal", "data")


class Alignment:
    """One alignment method: its data side, prepared once, and the targets of a codebook.

    A method is built once per fit, from the data (``from_data``) or from a
    stream (``data_stream``), and then gives each iteration's transport targets
    (``targets``). Everything that differs between methods lives in its class:
    the default target, the OT sample size, the checks on problem size, how the
    data side is built and how a codebook is aligned to it.
    """

    #: Name under which the method is registered (``alignment=`` of the estimator).
    name: str = ""
    #: What ``target="auto"`` resolves to for this method.
    default_target: str = "quantization-optimal"
    #: Rows of the data and their masses under ``p`` (float64 host arrays, the
    #: masses summing to one), where the solver re-seeds unused codes; set by
    #: ``from_data`` and by the streams.
    support = None

    @classmethod
    def default_sample_size(cls, n_codes: int, n_samples: int) -> int | None:
        """Data points the method transports to by default; None when it needs no sample."""
        return None

    @classmethod
    def check_size(cls, n_points: int | None, n_codes: int, **names) -> None:
        """Refuse a problem too large to solve in reasonable time (nothing to refuse by default)."""

    @classmethod
    def from_data(
        cls,
        X,
        sample_weight,
        *,
        n_codes: int,
        target: str,
        sample_size: int | None,
        n_projections: int | None = None,
        rng=None,
        nx=None,
    ) -> Alignment:
        """Prepare the data side once per fit.

        Parameters
        ----------
        X : ndarray or tensor of shape (n_samples, n_features)
            In memory, memory-mapped or on a torch device.
        sample_weight : array or tensor of shape (n_samples,) or None
        n_codes : int
        target : {"quantization-optimal", "data"}
            Which distribution the codes are matched to: the data's own, or the
            distortion-optimal density ``p^{d/(d+2)}``.
        sample_size : int or None
            Points of the OT sample, for methods that use one.
        n_projections : int or None
            Directions of the sliced method; its default if None.
        rng : numpy.random.RandomState
            The one source of random draws (sample rows, directions).
        nx : NumpyBackend or TorchBackend, default=None
            Where the data side is kept; numpy if None.
        """
        raise NotImplementedError

    @classmethod
    def data_stream(
        cls,
        n_features: int,
        *,
        n_codes: int,
        target: str,
        sample_size: int | None,
        n_projections: int | None = None,
    ):
        """The data side of a ``partial_fit`` stream: ``add(X, w, rng, nx)`` returns the alignment so far."""
        raise NotImplementedError

    def targets(self, codebook):
        """Transport targets of every code and the squared 2-Wasserstein estimate.

        Returns
        -------
        targets : array of shape (n_codes, n_features), float64, on the codebook's backend
        w2 : float
        """
        raise NotImplementedError


class SampleAlignment(Alignment):
    """A method that transports the codes to a weighted sample of the data (sliced, exact)."""

    @classmethod
    def from_data(
        cls,
        X,
        sample_weight,
        *,
        n_codes,
        target,
        sample_size,
        n_projections=None,
        rng=None,
        nx=None,
    ):
        sample, masses = ot_sample(X, sample_weight, sample_size, rng)
        return cls.from_sample(
            sample,
            masses,
            n_codes=n_codes,
            target=target,
            n_projections=n_projections,
            rng=rng,
            nx=nx,
        )

    @classmethod
    def from_sample(
        cls, sample, masses, *, n_codes, target, n_projections=None, rng=None, nx=None
    ):
        """The method on a weighted sample, reweighted to ``p^{d/(d+2)}`` for that target."""
        transported = masses
        if target == "quantization-optimal":
            transported = quantization_optimal_masses(sample, masses)
        alignment = cls(
            sample,
            transported,
            n_codes=n_codes,
            n_projections=n_projections,
            rng=rng,
            nx=nx,
        )
        alignment.support = (to_host(sample), to_host(masses))
        return alignment

    @classmethod
    def data_stream(
        cls, n_features, *, n_codes, target, sample_size, n_projections=None
    ):
        return SampleStream(
            cls,
            Reservoir(sample_size, n_features),
            n_codes=n_codes,
            target=target,
            n_projections=n_projections,
        )


class MomentStream:
    """A stream's running mean and covariance, the Gaussian alignment to them, and a support reservoir."""

    def __init__(self, method, n_features: int, *, target: str, support_size: int):
        self.method = method
        self.moments = Moments.empty(n_features)
        self.reservoir = Reservoir(support_size, n_features)
        self.target = target

    def add(self, X, sample_weight, rng, nx=None):
        """Merge a batch and return the alignment to everything seen so far."""
        X = to_host(X)
        self.moments = self.moments.merge(moments_of(X, sample_weight))
        self.reservoir.add(X, sample_weight, rng)
        alignment = self.method.from_moments(
            self.moments.mean, self.moments.cov, target=self.target
        )
        alignment.support = self.reservoir.sample()
        return alignment

    def copy(self) -> MomentStream:
        return copy.deepcopy(self)


class SampleStream:
    """A uniform reservoir sample of a stream, and the alignment to it.

    The alignment is rebuilt each time the number of rows seen doubles, so its
    data side (sorted projections, sample masses) is prepared ``O(log N)`` times
    over a stream of ``N`` rows.
    """

    def __init__(self, method, reservoir, *, n_codes, target, n_projections):
        self.method = method
        self.reservoir = reservoir
        self.n_codes = n_codes
        self.target = target
        self.n_projections = n_projections
        self.alignment = None
        self.built_at = 0

    def add(self, X, sample_weight, rng, nx=None):
        """Offer a batch to the reservoir and return the alignment to it."""
        self.reservoir.add(to_host(X), sample_weight, rng)
        if self.alignment is None or self.reservoir.n_seen >= 2 * self.built_at:
            sample, masses = self.reservoir.sample()
            self.alignment = self.method.from_sample(
                sample,
                masses,
                n_codes=self.n_codes,
                target=self.target,
                n_projections=self.n_projections,
                rng=rng,
                nx=nx,
            )
            self.built_at = self.reservoir.n_seen
        return self.alignment

    def copy(self) -> SampleStream:
        """A copy that one batch can advance while this one stays as it was.

        The reservoir replaces its arrays rather than writing into them, and an
        alignment is replaced rather than changed, so both may be shared.
        """
        twin = copy.copy(self)
        twin.reservoir = copy.copy(self.reservoir)
        return twin


def resolve_target(method: type[Alignment], target: str) -> str:
    """``target``, with ``"auto"`` replaced by the method's default.

    Examples
    --------
    >>> from skwvq.alignment import ALIGNMENTS
    >>> resolve_target(ALIGNMENTS["gaussian"], "auto")
    'data'
    """
    if target == "auto":
        return method.default_target
    if target not in TARGETS:
        raise ValueError(f"target must be 'auto' or one of {TARGETS}, got {target!r}.")
    return target


def support_size(n_codes: int, n_samples: int) -> int:
    """Rows kept for placing unused codes by a method without an OT sample.

    Examples
    --------
    >>> support_size(256, 1_000_000), support_size(256, 1000)
    (4096, 1000)
    """
    return min(n_samples, max(4 * n_codes, 4096))


def draw_support(X, sample_weight, n_codes: int, rng):
    """Rows of ``X`` drawn once (``support_size`` of them) and their masses, on the host."""
    size = support_size(n_codes, X.shape[0])
    return ot_sample(X, sample_weight, size, check_random_state(rng))
