"""The solver's step, its running statistics and its stopping rule, against hand-derived references."""

import math

import numpy as np
import pytest

from skwvq import WassersteinVQ
from skwvq._fit import horizon
from skwvq._solver import StoppingRule, step
from skwvq._sources import batch_spans
from skwvq._statistics import CodeStatistics, block_statistics
from skwvq.backends import backend_of
from skwvq.metrics import quantization_error


def brute_force_statistics(X, codebook, weights):
    """Counts, sums and error from the full distance matrix."""
    d2 = ((X[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)
    labels = d2.argmin(1)
    counts = np.bincount(labels, weights, minlength=len(codebook))
    sums = np.zeros_like(codebook)
    np.add.at(sums, labels, weights[:, None] * X)
    return counts, sums, float((weights * d2.min(1)).sum())


def test_block_statistics_add_up_to_those_of_all_rows():
    rng = np.random.default_rng(0)
    X, codebook = rng.normal(size=(600, 3)), rng.normal(size=(7, 3))
    weights = rng.uniform(0.5, 2.0, 600)
    nx = backend_of(X)
    parts = [
        block_statistics(nx, X[rows], codebook, weights[rows])[0]
        for rows in np.array_split(np.arange(600), 5)
    ]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    counts, sums, error = brute_force_statistics(X, codebook, weights)
    np.testing.assert_allclose(total.counts, counts)
    np.testing.assert_allclose(total.sums, sums)
    assert total.error == pytest.approx(error)
    assert total.weight == pytest.approx(weights.sum()) and total.rows == 600


def test_step_without_alignment_is_a_lloyd_step_on_the_running_statistics():
    rng = np.random.default_rng(1)
    codebook = rng.normal(size=(4, 2))
    past = CodeStatistics(
        np.array([3.0, 1.0, 0.0, 2.0]), rng.normal(size=(4, 2)), 1.0, 6.0, 6
    )
    block = CodeStatistics(
        np.array([1.0, 0.0, 0.0, 4.0]), rng.normal(size=(4, 2)), 2.0, 5.0, 5
    )
    retain = 0.25
    updated, running, w2 = step(codebook, block, None, 0.0, running=past, retain=retain)
    counts = retain * past.counts + block.counts
    sums = retain * past.sums + block.sums
    np.testing.assert_allclose(running.counts, counts)
    np.testing.assert_allclose(running.weight, retain * 6.0 + 5.0)
    used = counts > 0
    np.testing.assert_allclose(updated[used], sums[used] / counts[used, None])
    np.testing.assert_array_equal(updated[~used], codebook[~used])  # empty: stays
    assert math.isnan(w2)


def test_step_with_retain_zero_forgets_the_past():
    codebook = np.array([[0.0], [5.0]])
    past = CodeStatistics(
        np.array([9.0, 9.0]), np.array([[90.0], [0.0]]), 1.0, 18.0, 18
    )
    block = CodeStatistics(np.array([2.0, 0.0]), np.array([[3.0], [0.0]]), 0.0, 2.0, 2)
    updated, running, _ = step(codebook, block, None, 0.0, running=past, retain=0.0)
    np.testing.assert_array_equal(updated, [[1.5], [5.0]])
    assert running is block


def statistics_with_error(error, rows=10):
    return CodeStatistics(np.ones(1), np.zeros((1, 1)), error * rows, rows, rows)


def test_stopping_rule_stops_after_max_no_improvement_steps_without_a_new_best():
    # epoch_rows=1 makes the smoothing weight 1, so the smoothed error is the
    # batch error: the best is 3 at step 4 (step 1 is never counted), and steps
    # 5 and 6 do not beat it.
    rule = StoppingRule(max_no_improvement=2, epoch_rows=1)
    errors = [100.0, 5.0, 4.0, 3.0, 3.0, 3.5, 1.0]
    stops = [rule.after_step(statistics_with_error(e)) for e in errors]
    assert stops == [False, False, False, False, False, True, False]


def test_stopping_rule_smooths_the_batch_error_as_minibatch_kmeans():
    # Weight 2 * rows / (epoch_rows + 1) = 0.5 per batch: a single bad batch
    # after a good one raises the smoothed error by half the jump only.
    rule = StoppingRule(max_no_improvement=1, epoch_rows=39)
    rule.after_step(statistics_with_error(50.0))  # the initial codebook: ignored
    rule.after_step(statistics_with_error(4.0))
    assert rule._smoothed == 4.0
    rule.after_step(statistics_with_error(2.0))
    assert rule._smoothed == pytest.approx(3.0)
    assert rule.after_step(statistics_with_error(6.0))  # 4.5 > 3.0: stop
    assert not StoppingRule().after_step(statistics_with_error(1.0))


@pytest.fixture(scope="module")
def blobs_stream():
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=8.0, size=(16, 4))
    X = centres[rng.integers(16, size=20_000)] + rng.normal(size=(20_000, 4))
    return X


def test_minibatch_fit_stops_on_the_smoothed_error_and_counts_its_steps(blobs_stream):
    X = blobs_stream
    batch_size = 1000
    steps_per_epoch = len(
        list(batch_spans(len(X), batch_size, np.random.RandomState(0)))
    )
    params = dict(batch_size=batch_size, max_iter=30, tol=0.0, random_state=0)
    stopped = WassersteinVQ(16, **params).fit(X)
    assert stopped.n_iter_ < 30
    assert (stopped.n_iter_ - 1) * steps_per_epoch < stopped.n_steps_
    assert stopped.n_steps_ <= stopped.n_iter_ * steps_per_epoch
    assert len(stopped.history_["E"]) == stopped.n_iter_

    full = WassersteinVQ(16, max_no_improvement=None, **params).fit(X)
    assert full.n_iter_ == 30 and full.n_steps_ == 30 * steps_per_epoch
    # Stopping early costs little on well-separated blobs.
    assert quantization_error(X, stopped.codebook_) <= 1.02 * quantization_error(
        X, full.codebook_
    )


def test_full_batch_fit_takes_one_step_per_iteration(blobs_stream):
    vq = WassersteinVQ(16, max_iter=7, tol=0.0, random_state=0).fit(blobs_stream)
    assert vq.n_iter_ == vq.n_steps_ == 7


@pytest.mark.parametrize("horizon", [2000.0, np.inf])
def test_partial_fit_statistics_forget_at_the_stated_rate(blobs_stream, horizon):
    X = blobs_stream
    vq = WassersteinVQ(16, stats_horizon=horizon, random_state=0)
    batches = np.array_split(X[:5000], 10)
    for batch in batches:
        vq.partial_fit(batch)
    retain = max(0.0, 1.0 - 500 / horizon)
    expected_weight = sum(retain**age * 500 for age in range(10))
    assert vq._stream.solver.running.weight == pytest.approx(expected_weight)
    assert vq.n_steps_ == vq.n_iter_ == 10


def test_default_horizon_is_fifty_rows_per_code():
    assert horizon(WassersteinVQ(8), 8) == 400.0
    assert horizon(WassersteinVQ(8, stats_horizon=123), 8) == 123.0


class _Support:
    """An alignment stand-in that only carries a data support (``g = 0`` never asks for targets)."""

    def __init__(self, rows):
        self.support = (rows, np.full(len(rows), 1 / len(rows)))


def test_full_batch_step_reseeds_a_code_without_rows_on_the_row_served_worst():
    rows = np.array([[0.0], [0.1], [10.0]])
    codebook = np.array([[0.0], [50.0]])  # code 1 serves no row
    stats = CodeStatistics(np.array([3.0, 0.0]), np.array([[10.1], [0.0]]), 0.0, 3.0, 3)
    updated, _, _ = step(codebook, stats, _Support(rows), 0.0, rng=0)
    assert updated[0, 0] == pytest.approx(10.1 / 3)  # Lloyd for the used code
    # On the row farthest from code 0 (now at 3.37): 10.0 has two thirds of the
    # D^2 mass and the lowest potential of the two candidates drawn.
    assert updated[1, 0] == 10.0


def test_streaming_step_keeps_a_code_whose_batch_missed_it_but_that_owns_data():
    rows = np.array([[0.0], [1.0], [10.0], [11.0]])
    codebook = np.array([[0.5], [10.5]])
    past = CodeStatistics(np.array([2.0, 2.0]), np.array([[1.0], [21.0]]), 0.0, 4.0, 4)
    # This batch held only rows near code 0; code 1's cell still has data.
    block = CodeStatistics(np.array([2.0, 0.0]), np.array([[1.0], [0.0]]), 0.0, 2.0, 2)
    updated, _, _ = step(
        codebook, block, _Support(rows), 0.0, running=past, retain=0.5, rng=0
    )
    assert updated[1, 0] == pytest.approx(10.5)
    # Moved into empty space (no support row near it), it is re-seeded.
    far = np.array([[0.5], [40.0]])
    past_far = CodeStatistics(
        np.array([2.0, 2.0]), np.array([[1.0], [80.0]]), 0, 4.0, 4
    )
    updated, _, _ = step(far, block, _Support(rows), 0.0, running=past_far, retain=0.5)
    assert updated[1, 0] in (10.0, 11.0)


def test_settled_assignment_ends_a_decaying_fit_with_a_lloyd_step():
    rule = StoppingRule(shift_tol=1e-6, settle=True)
    first = CodeStatistics(np.array([2.0, 1.0]), np.array([[2.0], [5.0]]), 0.0, 3, 3)
    moved = CodeStatistics(np.array([2.0, 1.0]), np.array([[2.2], [5.0]]), 0.0, 3, 3)
    emptied = CodeStatistics(np.array([3.0, 0.0]), np.array([[7.2], [0.0]]), 0.0, 3, 3)
    assert not rule.settled(first)  # nothing to compare with yet
    assert not rule.settled(moved)  # code 0's mean moved by 0.1
    assert rule.settled(moved)  # same means twice
    assert not rule.settled(emptied)  # a code lost all its rows
    assert not StoppingRule(shift_tol=1.0).settled(moved)  # off without settle
