"""The solver: one step (block statistics, alignment targets, updated codebook) and the driver that loops it over a source of row blocks.

Every way of fitting runs the same two functions. ``step`` takes the per-code
statistics of a block of rows and returns the updated codebook; ``run`` asks a
*source* (``skwvq._sources``) for the blocks of each epoch, steps on each, and
reports the history. Per-block statistics add (``CodeStatistics.__add__``), so
statistics summed over memory chunks, memmap spans, Dask blocks or DDP ranks
feed the same step. Arrays stay on their backend throughout: nothing here copies
the codebook to the host.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

from sklearn.utils import check_random_state

from ._progress import progress
from ._statistics import CodeStatistics, perplexity_from_counts, utilization_from_counts
from .backends import backend_of, to_host
from .update import place_unused_codes, stranded_codes, update_codebook

HISTORY_KEYS = ("J", "E", "U", "C", "W", "alignment_weight")

# Running statistics remember this many rows per code by default. Measured by
# benchmarks/streaming.py (far start, N=100,000, d=8, K=256, batches of 2,500,
# 5 epochs, median of 3 seeds): E / full-batch E for fit(batch_size) and
# partial_fit is 1.019 / 1.015 at 25 rows per code, 1.011 / 1.005 at 50,
# 1.014 / 1.007 at 100, 1.028 / 1.019 at one epoch (the old fit rule) and
# 1.040 / 1.029 never forgetting (the old partial_fit rule). Fewer rows are
# noisy means; more keep rows assigned while a code stood elsewhere.
HORIZON_ROWS_PER_CODE = 50


def retained_fraction(rows: float, horizon: float | None) -> float:
    """Share of the running statistics kept when ``rows`` new rows arrive: ``1 - rows / horizon``.

    Never below zero; ``horizon=None`` keeps nothing (a full batch is all the
    statistics), ``math.inf`` everything. The estimator's mini-batches and
    streams and the layer forget by this one rule.

    Examples
    --------
    >>> retained_fraction(100, 400.0), retained_fraction(100, None)
    (0.75, 0.0)
    """
    return 0.0 if horizon is None else max(0.0, 1.0 - rows / horizon)


def step(
    codebook,
    statistics,
    alignment,
    alignment_weight,
    *,
    running=None,
    retain=0.0,
    rng=None,
    reseed=True,
):
    """One iteration: fold a block's statistics into the running ones, align, update.

    The running statistics keep a fraction ``retain`` of their past and add the
    block's: ``retain = 0`` uses the block alone (a full-batch iteration),
    ``retain = 1`` never forgets (``MiniBatchKMeans``'s lifelong counts), and
    values between forget geometrically (an exponential moving average, as a VQ
    layer's EMA codebook). The codebook then moves to the minimiser of
    ``J = (1 - g) E + g W^2`` for these statistics and the alignment's targets
    (``skwvq.update.update_codebook``). Codes that the block left without rows
    are then re-seeded on the alignment's data support where the other codes
    serve the data worst (``skwvq.update.place_unused_codes``), so that no code
    stays dead. With running statistics (``retain > 0``) a batch may simply
    have missed a live code's cell, so there only the codes that own no
    support row where they now stand are re-seeded
    (``skwvq.update.stranded_codes``). A caller that re-seeds its own way (the
    layer) passes ``reseed=False``.

    Parameters
    ----------
    codebook : array or tensor of shape (n_codes, n_features)
    statistics : CodeStatistics
        The block's statistics against ``codebook``.
    alignment : skwvq.alignment.Alignment or None
        Gives the transport targets (not called when ``alignment_weight == 0``)
        and the support unused codes are re-seeded on; None for neither.
    alignment_weight : float in [0, 1]
        The weight ``g`` of the Wasserstein term.
    running : CodeStatistics or None, default=None
        Running statistics before this block.
    retain : float in [0, 1], default=0.0
        Fraction of ``running`` kept.
    rng : numpy.random.RandomState, default=None
        Draws the rows that unused codes are re-seeded on; seed 0 if None.
    reseed : bool, default=True
        Whether codes left without rows are re-seeded on the alignment's support.

    Returns
    -------
    codebook : array or tensor of shape (n_codes, n_features)
    running : CodeStatistics
        The running statistics including this block.
    w2 : float
        The alignment's squared Wasserstein estimate (NaN when ``g = 0``).

    Examples
    --------
    >>> import numpy as np
    >>> codebook = np.array([[0.0], [10.0]])
    >>> stats = CodeStatistics(np.array([2.0, 0.0]), np.array([[2.0], [0.0]]), 1.0, 2.0, 2)
    >>> step(codebook, stats, None, 0.0)[0]  # Lloyd: code 0 to its mean, code 1 stays
    array([[ 1.],
           [10.]])
    """
    block_counts = statistics.counts
    if running is not None and retain > 0:
        statistics = running.scaled(retain) + statistics
    g = float(alignment_weight)
    targets, w2 = alignment.targets(codebook) if g > 0 else (None, math.nan)
    updated = update_codebook(
        codebook,
        statistics.counts / statistics.weight,
        statistics.sums / statistics.weight,
        targets,
        g,
    )
    support = alignment.support if reseed and alignment is not None else None
    if support is not None:
        unused = to_host(block_counts) <= 0
        if running is not None and retain > 0:
            # A mini-batch can miss the cell of a live code, which its running
            # statistics still hold: such a code counts as unused only if it
            # owns no support row. A block that is all the statistics (a full
            # batch) leaving a code without rows is a fact.
            unused = stranded_codes(updated, unused, support)
        if unused.any():
            rng = check_random_state(0 if rng is None else rng)
            updated = place_unused_codes(updated, unused, support, rng)
    return updated, statistics, w2


@dataclass
class StoppingRule:
    """When the driver stops: a small codebook shift, or a plateau of the smoothed error.

    After each epoch, the fit stops when the squared shift of the codebook over
    the epoch is at most ``shift_tol`` (``tol`` times the data's mean
    per-feature variance, as ``KMeans``). Mini-batch statistics are too noisy for
    that test alone, so, with ``max_no_improvement`` set, the fit also stops once
    an exponentially weighted average of the blocks' error (weight
    ``2 rows / (epoch_rows + 1)`` per block, as ``MiniBatchKMeans``) has not
    improved for that many consecutive steps. The first step is not counted:
    its error is the initial codebook's. The plateau test sees the error only:
    it can stop while the alignment is still evening out the codes' shares
    (the estimator's ``max_no_improvement`` gives the measured cost).

    Examples
    --------
    >>> rule = StoppingRule(shift_tol=1e-3)
    >>> rule.after_epoch(1e-4)
    True
    """

    shift_tol: float = 0.0
    max_no_improvement: int | None = None
    epoch_rows: int = 1
    settle: bool = False
    _previous_means: object = field(default=None, repr=False)
    _smoothed: float | None = field(default=None, repr=False)
    _best: float = field(default=math.inf, repr=False)
    _steps: int = field(default=0, repr=False)
    _no_improvement: int = field(default=0, repr=False)

    def after_step(self, statistics: CodeStatistics) -> bool:
        """Track the smoothed error; whether it has stopped improving."""
        self._steps += 1
        if self.max_no_improvement is None or self._steps == 1:
            return False
        if statistics.weight <= 0:
            return False
        error = statistics.error / statistics.weight
        if self._smoothed is None:
            self._smoothed = error
        else:
            alpha = min(1.0, 2.0 * statistics.rows / (self.epoch_rows + 1))
            self._smoothed = (1 - alpha) * self._smoothed + alpha * error
        if self._smoothed < self._best:
            self._best, self._no_improvement = self._smoothed, 0
        else:
            self._no_improvement += 1
        return self._no_improvement >= self.max_no_improvement

    def settled(self, statistics: CodeStatistics) -> bool:
        """With ``settle``: whether the codes' means moved by at most the tolerance since the last block.

        The means are where Lloyd's step (``g = 0``) would put the codes, so this
        is ``KMeans``'s test on the part of the motion that the assignment makes:
        unlike the codebook's own shift, which the decaying alignment keeps
        above the tolerance, it is met once the assignment stops changing. A
        code gaining or losing all its rows is never settled.
        """
        if not self.settle:
            return False
        counts = to_host(statistics.counts)
        used = counts > 0
        means = to_host(statistics.sums)[used] / counts[used, None]
        previous, self._previous_means = self._previous_means, (used, means)
        if previous is None or not (previous[0] == used).all():
            return False
        return float(((means - previous[1]) ** 2).sum()) <= self.shift_tol

    def after_epoch(self, shift: float) -> bool:
        """Whether the epoch moved the codebook by at most the tolerance."""
        return shift <= self.shift_tol


def _objective(error: float, g: float, w2: float) -> float:
    """``J = (1 - g) E + g W^2`` (``W^2`` unused, and possibly NaN, at ``g = 0``)."""
    return (1 - g) * error + (g * w2 if g > 0 else 0.0)


def _new_history() -> dict:
    return {key: [] for key in HISTORY_KEYS}


@dataclass
class SolverState:
    """What the driver carries from one step to the next, and a ``partial_fit`` stream between calls.

    Attributes
    ----------
    codebook : array or tensor of shape (n_codes, n_features)
        On the backend the solver runs on.
    running : CodeStatistics or None
        Running per-code statistics.
    n_epochs, n_steps : int
        Epochs (history entries) and steps run.
    history : dict of list
        Per epoch: J, E, U, C, W and g (``HISTORY_KEYS``).
    """

    codebook: object
    running: CodeStatistics | None = None
    n_epochs: int = 0
    n_steps: int = 0
    history: dict = field(default_factory=_new_history)

    def copy(self) -> SolverState:
        """A copy that a run can advance while this one stays as it was.

        Steps replace the codebook and the statistics rather than writing into
        them, so only the history lists need copying.
        """
        return replace(self, history={k: list(v) for k, v in self.history.items()})

    def to_backend(self, nx) -> SolverState:
        """The state with its arrays on backend ``nx`` (a stream may switch backends)."""
        codebook = self.codebook
        if backend_of(codebook) is not nx:
            codebook = nx.asarray(codebook)
        running = None if self.running is None else self.running.to_backend(nx)
        return replace(self, codebook=codebook, running=running)


def record_epoch(
    history, g, statistics, w2, shift=None, *, epoch=0, verbose=0, elapsed=None
):
    """Append one epoch's J, E, U, C, W and g to ``history`` (and print it if verbose).

    E, U and C are those of the codebook(s) the epoch's blocks were assigned to;
    W is the alignment's estimate at the epoch's last step.
    """
    counts = to_host(statistics.counts)
    error = statistics.error / statistics.weight
    objective = _objective(error, g, w2)
    values = (
        objective,
        error,
        utilization_from_counts(counts),
        perplexity_from_counts(counts),
        math.sqrt(w2) if w2 == w2 else math.nan,
        g,
    )
    for key, value in zip(HISTORY_KEYS, values):
        history[key].append(value)
    if verbose:
        moved = "" if shift is None else f" shift={shift:.3g}"
        timed = "" if elapsed is None else f" ({elapsed:.2f} s)"
        print(
            f"Iteration {epoch}: J={objective:.6g} E={error:.6g} "
            f"U={values[2]:.3f} g={g:.3g}{moved}{timed}",
            flush=True,
        )


def run(
    state: SolverState,
    source,
    alignment,
    *,
    schedule,
    max_epochs: int,
    horizon: float | None = None,
    stopping: StoppingRule | None = None,
    rng=None,
    verbose: int = 0,
) -> SolverState:
    """The driver: epochs of steps over the blocks of ``source``, until a stopping rule holds.

    Parameters
    ----------
    state : SolverState
        Where to start (advanced in place and returned).
    source : object
        A source of row blocks (``skwvq._sources``): ``blocks(rng)`` yields the
        ``n_blocks`` blocks of one epoch and ``statistics(block, codebook)``
        gives a block's ``CodeStatistics``.
    alignment : skwvq.alignment.Alignment
    schedule : callable
        ``schedule(epoch) -> g``, the alignment weight of an epoch.
    max_epochs : int
    horizon : float or None, default=None
        Rows that the running statistics remember: each step keeps
        ``1 - rows / horizon`` of them (none at or below zero). None forgets
        everything at every step (a full-batch fit); ``math.inf`` never forgets.
    stopping : StoppingRule or None, default=None
        None runs all ``max_epochs``.
    rng : numpy.random.RandomState, default=None
        Handed to the source (mini-batch draws).
    verbose : int, default=0
        1: one line per epoch (J, E, U, g, the codebook's shift, seconds since
        the call began); 2: also a progress bar over each epoch's blocks when
        there are several (``skwvq._progress``).

    Returns
    -------
    SolverState
    """
    nx = backend_of(state.codebook)
    started = time.perf_counter()
    for _ in range(max_epochs):
        g = schedule(state.n_epochs)
        start = nx.float64(state.codebook)
        epoch, w2, stopped, settled = None, math.nan, False, False
        blocks = source.blocks(rng)
        n_blocks = source.n_blocks
        if verbose >= 2 and n_blocks > 1:
            blocks = progress(
                blocks, total=n_blocks, desc=f"epoch {state.n_epochs}", leave=False
            )
        for block in blocks:
            statistics = source.statistics(block, state.codebook)
            retain = retained_fraction(statistics.rows, horizon)
            settled = stopping is not None and stopping.settled(statistics)
            if settled:
                # The assignment no longer changes: the alignment has done its
                # work, and one Lloyd step (g = 0) ends the fit at a fixed point.
                g = 0.0
            state.codebook, state.running, w2 = step(
                state.codebook,
                statistics,
                alignment,
                g,
                running=state.running,
                retain=retain,
                rng=rng,
            )
            state.n_steps += 1
            epoch = statistics if epoch is None else epoch + statistics
            if stopping is not None and stopping.after_step(statistics):
                stopped = True
                break
        shift = float(nx.sum((nx.float64(state.codebook) - start) ** 2))
        record_epoch(
            state.history,
            g,
            epoch,
            w2,
            shift,
            epoch=state.n_epochs,
            verbose=verbose,
            elapsed=time.perf_counter() - started,
        )
        state.n_epochs += 1
        if stopped or settled or (stopping is not None and stopping.after_epoch(shift)):
            break
    return state
