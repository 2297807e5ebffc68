"""Optimal-transport alignment: one class per method, registered by name, and their building blocks.

Each method is a subclass of :class:`Alignment` registered in ``ALIGNMENTS``;
the estimator, its ``partial_fit`` stream, the layer and ``skwvq.metrics``
find methods only there. A new method (say entropic OT with ``ot.sinkhorn``)
is one new class and one line of ``ALIGNMENTS``, nothing outside this
package. The class declares:

- ``name`` and ``default_target`` (what ``target="auto"`` means for it);
- ``needs_covariance`` (whether it reads the data's covariance: a Dask fit's
  first pass then gathers it) and ``for_layers`` (whether a VQ layer may use it);
- ``default_sample_size(n_codes, n_samples)`` and ``check_size(n_points,
  n_codes)``: the OT sample it transports to (None for none) and the sizes it
  refuses;
- ``from_data(rows, *, n_codes, target, sample_size, n_projections, rng)``:
  the data side, prepared once per fit from the rows of any input kind
  (``skwvq._inputs.Rows``: their moments, or rows drawn to the host). Subclass
  ``SampleAlignment`` to get it from a weighted sample, with the
  quantization-optimal masses, and implement ``__init__(sample, masses, *,
  n_codes, ...)``;
- ``data_stream(*, n_codes, target, sample_size, n_projections, keep,
  support)``: its data side on a stream (``skwvq.streaming``), for
  ``partial_fit`` and for the layer; ``SampleAlignment`` and the Gaussian
  method give the two kinds, a reservoir sample and running moments;
- ``targets(codebook) -> (targets, w2)``: float64 targets on the codebook's
  backend and the squared 2-Wasserstein estimate.

Modules: ``_base`` (the interface, ``SampleAlignment``, the support rows),
``_sample`` (the OT sample and its masses), ``_gaussian`` (with the PSD roots
and the Gaussian W2), ``_sliced`` and ``_exact`` (one method each).
"""

from .._moments import weighted_moments
from ._base import TARGETS, Alignment, SampleAlignment, resolve_target
from ._exact import (
    EXACT_MAX_PLAN_ENTRIES,
    ExactAlignment,
    check_exact_size,
    exact_targets,
)
from ._gaussian import GaussianAlignment, gaussian_targets, gaussian_w2, sqrtm_psd
from ._sample import ot_sample, quantization_optimal_masses
from ._sliced import (
    SlicedAlignment,
    default_n_projections,
    sliced_data_side,
    sliced_targets,
)

ALIGNMENTS: dict[str, type[Alignment]] = {
    "gaussian": GaussianAlignment,
    "sliced": SlicedAlignment,
    "exact": ExactAlignment,
}

__all__ = [
    "ALIGNMENTS",
    "EXACT_MAX_PLAN_ENTRIES",
    "TARGETS",
    "Alignment",
    "ExactAlignment",
    "GaussianAlignment",
    "SampleAlignment",
    "SlicedAlignment",
    "check_exact_size",
    "default_n_projections",
    "exact_targets",
    "gaussian_targets",
    "gaussian_w2",
    "ot_sample",
    "quantization_optimal_masses",
    "resolve_target",
    "sliced_data_side",
    "sliced_targets",
    "sqrtm_psd",
    "weighted_moments",
]
