"""How ``WassersteinVQ`` fits: the start, the alignment, the stopping rule, the run and the final assignment, and the ``partial_fit`` stream.

Free functions over the estimator's parameters (``vq``) and the rows of its
input (``skwvq._inputs.Rows``), as scikit-learn keeps ``_kmeans_single_lloyd``
outside ``KMeans``. They read the parameters and the fitted codebook of a warm
start, and return what the fit found (``Fitted``); the estimator sets its
attributes from that.
"""

from __future__ import annotations

import copy
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._inputs import as_rows
from ._solver import HORIZON_ROWS_PER_CODE, SolverState, StoppingRule, run
from .alignment import ALIGNMENTS, resolve_target
from .backends import backend_of, to_host
from .initialization import check_codebook, initial_codebook

# What n_clusters="auto" means when the data allow it: one byte per code.
AUTO_N_CLUSTERS = 256
# The user's frame seen from a warning here: this module's function, the
# estimator's method and its _fit_context wrapper, and one more frame of fit's.
_USER_STACKLEVEL = 5


@dataclass
class Fitted:
    """What a fit (or one ``partial_fit`` batch) found.

    Attributes
    ----------
    state : SolverState
        The codebook, running statistics, iterations, steps and history.
    labels : array, tensor or dask array
        Code index of each training row (of the last batch for a stream).
    inertia : float
        Weighted sum of the training rows' squared distances to their codes.
    n_used : int or None
        Codes with rows (None for a stream batch).
    backend, device : str
        Where the solver ran.
    schedule_epochs : int or None
        Iterations of the schedule of ``g`` run so far, warm starts included
        (None for a stream batch, which leaves the fit's schedule as it was).
    """

    state: SolverState
    labels: object
    inertia: float
    n_used: int | None
    backend: str
    device: str
    schedule_epochs: int | None = None


@dataclass
class Stream:
    """What ``partial_fit`` carries from one batch to the next."""

    rng: np.random.RandomState
    solver: SolverState
    data: object  # the alignment's data side: skwvq.streaming's MomentStream or SampleStream
    state: dict = field(default_factory=dict)  # its arrays

    def copy(self) -> Stream:
        """A copy that one batch can advance while this one stays as it was.

        Steps and streams replace arrays rather than writing into them, so
        copying the containers is enough.
        """
        return Stream(
            copy.deepcopy(self.rng),
            self.solver.copy(),
            self.data.copy(),
            dict(self.state),
        )


@contextmanager
def unchanged_on_error(vq):
    """Restore the estimator's attributes if the block raises (bad input changes nothing)."""
    saved = dict(vars(vq))
    try:
        yield
    except BaseException:
        vars(vq).clear()
        vars(vq).update(saved)
        raise


def method_and_target(vq):
    """The alignment class of ``vq.alignment`` and the target it matches the codes to."""
    method = ALIGNMENTS[vq.alignment]
    return method, resolve_target(method, vq.target)


def resolve_n_codes(
    n_clusters, n_samples: int, stacklevel: int = _USER_STACKLEVEL
) -> int:
    """``n_clusters`` with ``"auto"`` resolved for data of ``n_samples`` rows (warning when they are fewer)."""
    if n_clusters != "auto":
        return n_clusters
    if n_samples < AUTO_N_CLUSTERS:
        warnings.warn(
            f"n_clusters='auto' uses {AUTO_N_CLUSTERS} codes, but X has only "
            f"{n_samples} samples: one code per sample, {n_samples} codes, are "
            "used. Set n_clusters to choose the codebook size.",
            UserWarning,
            stacklevel=stacklevel,
        )
        return n_samples
    return AUTO_N_CLUSTERS


def warm_started(vq, n_features: int) -> bool:
    """Whether ``fit`` goes on from the fitted codebook (``warm_start``), checked against X."""
    if not (vq.warm_start and hasattr(vq, "codebook_")):
        return False
    expected = (vq.n_clusters_, n_features)
    if vq.n_clusters not in ("auto", vq.n_clusters_) or vq.codebook_.shape != expected:
        raise ValueError(
            f"warm_start=True continues from the fitted codebook of shape "
            f"{vq.codebook_.shape}, but n_clusters={vq.n_clusters!r} and X "
            f"with {n_features} features ask for {expected[0]} x {n_features}. "
            "Set warm_start=False to start afresh."
        )
    return True


def sample_size(vq, n_samples: int, n_codes: int) -> int | None:
    """Points of the OT sample (None for a method without one), checked for its size."""
    method, _ = method_and_target(vq)
    size = method.default_sample_size(n_codes, n_samples)
    if size is not None and vq.ot_sample_size is not None:
        size = min(vq.ot_sample_size, n_samples)
    method.check_size(size, n_codes)
    return size


def schedule(vq, epoch: int) -> float:
    """The alignment weight ``g`` of an epoch: ``alignment_weight * alignment_decay**epoch``."""
    return vq.alignment_weight * vq.alignment_decay**epoch


def horizon(vq, n_codes: int) -> float:
    """Rows that the running statistics of mini-batch fits and streams remember."""
    if vq.stats_horizon is not None:
        return float(vq.stats_horizon)
    return float(HORIZON_ROWS_PER_CODE * n_codes)


def _needs_covariance(vq) -> bool:
    """Whether the fit reads the data's covariance (else only per-feature variances)."""
    method, _ = method_and_target(vq)
    return method.needs_covariance or (
        isinstance(vq.init, str) and vq.init == "gaussian"
    )


def _check_weights_and_start(vq, rows, sample_weight, n_codes, *, warm, **first_pass):
    """Check everything that depends on the data before anything is computed; the start.

    Returns the ``init`` to draw the codebook with (the fitted codebook for a
    warm start, a checked array, or the parameter as given).
    """
    n_samples, n_features = rows.shape
    if n_samples < n_codes:
        raise ValueError(f"n_samples={n_samples} should be >= n_clusters={n_codes}.")
    sample_weight = rows.check_sample_weight(sample_weight, **first_pass)
    n_weighted = int(np.count_nonzero(sample_weight))
    if n_weighted < n_codes:
        raise ValueError(
            f"Only {n_weighted} samples have a positive sample_weight; "
            f"n_clusters={n_codes} codes need at least as many."
        )
    if warm:
        return vq.codebook_
    if not isinstance(vq.init, str) and not callable(vq.init):
        return check_codebook(vq.init, n_codes, n_features, rows.dtype, "init array")
    return vq.init


def fit(vq, rows, sample_weight) -> Fitted:
    """The fit of ``vq`` on ``rows``: draw the start, prepare the alignment, run the solver, assign.

    Parameters
    ----------
    vq : WassersteinVQ
        Its parameters (and, for a warm start, its fitted codebook and schedule).
    rows : skwvq._inputs.Rows
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    Fitted
    """
    warm = warm_started(vq, rows.n_features)
    n_codes = (
        vq.n_clusters_ if warm else resolve_n_codes(vq.n_clusters, rows.n_samples, 6)
    )
    init = _check_weights_and_start(
        vq,
        rows,
        sample_weight,
        n_codes,
        warm=warm,
        covariance=_needs_covariance(vq),
        persist=True,
    )
    size = sample_size(vq, rows.n_samples, n_codes)
    rng = check_random_state(vq.random_state)
    codebook = initial_codebook(rows, n_codes, init, rng)
    # A warm start goes on along the schedule where the earlier fits left it.
    start = vars(vq).get("_schedule_epochs", 0) if warm else 0
    nx = rows.nx
    with nx.solver_threads():
        method, target = method_and_target(vq)
        alignment = method.from_data(
            rows,
            n_codes=n_codes,
            target=target,
            sample_size=size,
            n_projections=vq.n_projections,
            rng=rng,
        )
        variance = float(rows.moments(diagonal=True).variances.mean())
        stopping = StoppingRule(shift_tol=vq.tol * variance, epoch_rows=rows.n_samples)
        if vq.batch_size is None or vq.batch_size >= rows.n_samples:
            source, memory = rows.source(), None
            stopping.settle = vq.alignment_decay < 1
        else:
            source, memory = rows.source(vq.batch_size), horizon(vq, n_codes)
            stopping.max_no_improvement = vq.max_no_improvement
        state = run(
            SolverState(nx.asarray(codebook)),
            source,
            alignment,
            schedule=lambda epoch: schedule(vq, start + epoch),
            max_epochs=vq.max_iter,
            horizon=memory,
            stopping=stopping,
            rng=rng,
            verbose=vq.verbose,
        )
        labels, inertia, n_used = rows.final_assignment(state.codebook)
    return Fitted(
        state,
        labels,
        inertia,
        n_used,
        nx.__name__,
        str(nx.device),
        start + state.n_epochs,
    )


def warn_unused_codes(fitted: Fitted) -> None:
    """Warn, as ``KMeans`` does, when a fit ended with codes that no row uses.

    Called once the estimator holds the fit, so that a warning turned into an
    error does not undo it. Re-seeding leaves a code unused only when no
    distinct row is left.
    """
    n_codes = fitted.state.codebook.shape[0]
    if fitted.n_used is not None and fitted.n_used < n_codes:
        warnings.warn(
            f"Number of distinct clusters ({fitted.n_used}) found smaller than "
            f"n_clusters ({n_codes}). Possibly due to duplicate points in X.",
            ConvergenceWarning,
            stacklevel=_USER_STACKLEVEL,
        )


def partial_fit(
    vq, rows, sample_weight, stream: Stream | None
) -> tuple[Fitted, Stream]:
    """One ``partial_fit`` batch: fold it into the stream and take one solver step.

    The first batch of an unfitted estimator draws the codebook (and needs at
    least ``n_clusters`` rows). ``stream`` is not changed: the stream that
    comes back is an advanced copy, so a batch that fails leaves it as it was.

    Returns
    -------
    fitted : Fitted
        Labels and error of this batch.
    stream : Stream
    """
    fitted = hasattr(vq, "codebook_")
    if fitted:
        rows.check_sample_weight(sample_weight, dtype=vq.codebook_.dtype)
        n_codes = vq.n_clusters_
    else:
        n_codes = resolve_n_codes(vq.n_clusters, rows.n_samples)
        init = _check_weights_and_start(vq, rows, sample_weight, n_codes, warm=False)
        sample_size(vq, rows.n_samples, n_codes)
    if stream is not None:
        stream = stream.copy()
    else:
        rng = check_random_state(vq.random_state)
        codebook = (
            vq.codebook_ if fitted else initial_codebook(rows, n_codes, init, rng)
        )
        stream = new_stream(vq, rng, codebook)
    nx = rows.nx
    host = rows.on_host()
    data = stream.data
    data.add(
        stream.state,
        host.host_rows(np.arange(host.n_samples)),
        host.sample_weight,
        moments=host.moments() if data.needs_moments else None,
        rng=stream.rng,
    )
    alignment = data.alignment(stream.state, rng=stream.rng, nx=nx)
    stream.solver = stream.solver.to_backend(nx)
    source = rows.batch(stream.solver.codebook.dtype)
    with nx.solver_threads():
        run(
            stream.solver,
            source,
            alignment,
            schedule=lambda epoch: schedule(vq, epoch),
            max_epochs=1,
            horizon=horizon(vq, n_codes),
            rng=stream.rng,
            verbose=vq.verbose,
        )
    last = source.last
    return Fitted(
        stream.solver, source.labels, last.error, None, nx.__name__, str(nx.device)
    ), stream


def new_stream(vq, rng, codebook) -> Stream:
    """A stream starting from ``codebook``: the alignment's data side, empty."""
    method, target = method_and_target(vq)
    n_codes, n_features = codebook.shape
    data = method.data_stream(
        n_codes=n_codes,
        target=target,
        sample_size=sample_size(vq, np.iinfo(np.int64).max, n_codes),
        n_projections=vq.n_projections,
    )
    return Stream(rng, SolverState(codebook), data, data.start(n_features))


def from_codebook(codebook, X=None) -> Fitted:
    """What ``WassersteinVQ.from_codebook`` sets: ``codebook`` checked, and its labels and inertia on X."""
    codebook = np.asarray(to_host(codebook))
    dtype = np.float32 if codebook.dtype == np.float32 else np.float64
    codebook = check_codebook(codebook, *codebook.shape, dtype, "codebook")
    labels, inertia = np.empty(0, dtype=np.int64), np.nan
    if X is not None:
        rows = as_rows(X, backend="numpy")
        if rows.n_features != codebook.shape[1]:
            raise ValueError(
                f"X has {rows.n_features} features but the codebook has "
                f"{codebook.shape[1]}."
            )
        rows.check_sample_weight(None)
        labels, inertia, _ = rows.final_assignment(rows.codebook_here(codebook))
    nx = backend_of()
    return Fitted(SolverState(codebook), labels, inertia, None, nx.__name__, nx.device)
