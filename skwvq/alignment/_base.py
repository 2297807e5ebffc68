"""What every alignment method implements, and the two kinds of data side it keeps: moments or a sample."""

from __future__ import annotations

from sklearn.utils import check_random_state

from ..backends import to_host
from ..streaming import Reservoir, SampleStream
from ._sample import ot_sample, quantization_optimal_masses

TARGETS = ("quantization-optimal", "data")


class Alignment:
    """One alignment method: its data side, prepared once, and the targets of a codebook.

    A method is built once per fit, from the data (``from_data``) or from a
    stream (``data_stream``), and then gives each iteration's transport targets
    (``targets``). Everything that differs between methods lives in its class:
    the default target, the OT sample size, the checks on problem size, what
    it needs of the data (``needs_covariance``), how the data side is built
    from rows and from a stream, and how a codebook is aligned to it.
    """

    #: Name under which the method is registered (``alignment=`` of the estimator).
    name: str = ""
    #: What ``target="auto"`` resolves to for this method.
    default_target: str = "quantization-optimal"
    #: Whether ``from_data`` reads the data's full covariance (a Dask fit's
    #: first pass then gathers it; otherwise per-feature variances only).
    needs_covariance: bool = False
    #: Whether a VQ layer may align by this method at every training step.
    for_layers: bool = True
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
        rows,
        *,
        n_codes: int,
        target: str,
        sample_size: int | None,
        n_projections: int | None = None,
        rng=None,
    ) -> Alignment:
        """Prepare the data side once per fit.

        Parameters
        ----------
        rows : skwvq._inputs.Rows
            The data, whatever their kind, with their ``sample_weight``: the
            method reads their ``moments``, or draws ``host_rows``; it keeps
            its data side on their backend ``rows.nx``.
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
        """
        raise NotImplementedError

    @classmethod
    def data_stream(
        cls,
        *,
        n_codes: int,
        target: str,
        sample_size: int | None,
        n_projections: int | None = None,
        keep: str = "uniform",
        support: bool = True,
    ):
        """The data side of a stream (``skwvq.streaming``): ``partial_fit``'s, or the layer's.

        Parameters
        ----------
        n_codes, target, sample_size, n_projections
            As for ``from_data``; ``sample_size`` bounds the stream's sample.
        keep : {"uniform", "recent"}, default="uniform"
            Which rows a sample keeps: a uniform sample of the stream, or the
            most recent rows.
        support : bool, default=True
            Whether the stream keeps a support where unused codes are
            re-seeded (the layer re-seeds its own way).
        """
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
        cls, rows, *, n_codes, target, sample_size, n_projections=None, rng=None
    ):
        sample, masses = ot_sample(rows, sample_size, rng)
        return cls.from_sample(
            sample,
            masses,
            n_codes=n_codes,
            target=target,
            n_projections=n_projections,
            rng=rng,
            nx=rows.nx,
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
        cls,
        *,
        n_codes,
        target,
        sample_size,
        n_projections=None,
        keep="uniform",
        support=True,
    ):
        return SampleStream(
            cls,
            Reservoir(sample_size, keep=keep),
            n_codes=n_codes,
            target=target,
            n_projections=n_projections,
        )


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


def draw_support(rows, n_codes: int, rng):
    """Rows drawn once (``support_size`` of them) and their masses, on the host."""
    size = support_size(n_codes, rows.n_samples)
    return ot_sample(rows, size, check_random_state(rng))
