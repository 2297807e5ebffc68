"""The assignment kernel against a plain numpy reference."""

import numpy as np
import pytest

from skwvq.assignment import assign, nearest_codes, pairwise_distances_chunked


def reference(X, codebook, sample_weight):
    sq = (
        (X[:, None, :].astype(np.float64) - codebook[None].astype(np.float64)) ** 2
    ).sum(-1)
    labels = sq.argmin(axis=1)
    counts = np.bincount(labels, weights=sample_weight, minlength=len(codebook))
    sums = np.zeros(codebook.shape)
    np.add.at(sums, labels, sample_weight[:, None] * X)
    return labels, sq[np.arange(len(X)), labels], counts, sums


def separated_problem(dtype, n_samples=1000, n_codes=37, n_features=5, seed=0):
    """Codes far apart relative to the noise, so the nearest code is unambiguous."""
    rng = np.random.default_rng(seed)
    codebook = rng.normal(scale=10.0, size=(n_codes, n_features))
    labels = rng.integers(n_codes, size=n_samples)
    X = codebook[labels] + rng.normal(scale=0.5, size=(n_samples, n_features))
    weights = rng.uniform(0.1, 3.0, size=n_samples)
    return X.astype(dtype), codebook.astype(dtype), weights.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 999, 1000, 5000])
def test_matches_numpy_reference(dtype, chunk_size):
    X, codebook, weights = separated_problem(dtype)
    result = assign(X, codebook, sample_weight=weights, chunk_size=chunk_size)
    labels, sq, counts, sums = reference(X, codebook, weights.astype(np.float64))
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    # The expanded form ||x||^2 + ||c||^2 - 2 x.c loses digits relative to the norms.
    norm_scale = float((X.astype(np.float64) ** 2).sum(1).max())
    np.testing.assert_array_equal(result.labels, labels)
    assert result.sq_distances.dtype == dtype
    np.testing.assert_allclose(
        result.sq_distances, sq, rtol=rtol, atol=rtol * norm_scale
    )
    np.testing.assert_allclose(result.counts, counts, rtol=rtol)
    np.testing.assert_allclose(result.sums, sums, rtol=rtol, atol=rtol)


def test_unweighted_counts_are_sample_counts():
    X, codebook, _ = separated_problem(np.float64)
    result = assign(X, codebook)
    np.testing.assert_array_equal(
        result.counts, np.bincount(result.labels, minlength=37)
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_read_only_and_memmap_input(tmp_path, dtype):
    X, codebook, weights = separated_problem(dtype)
    expected = assign(X, codebook, sample_weight=weights)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert not mapped.flags.writeable
    codebook.setflags(write=False)
    result = assign(mapped, codebook, sample_weight=weights)
    np.testing.assert_array_equal(result.labels, expected.labels)
    np.testing.assert_array_equal(result.sums, expected.sums)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_results_do_not_depend_on_thread_count(dtype):
    X, codebook, weights = separated_problem(
        dtype, n_samples=20000, n_codes=300, seed=3
    )
    one = assign(X, codebook, sample_weight=weights, n_threads=1, chunk_size=128)
    two = assign(X, codebook, sample_weight=weights, n_threads=2, chunk_size=128)
    four = assign(X, codebook, sample_weight=weights, n_threads=4, chunk_size=128)
    for other in (two, four):
        np.testing.assert_array_equal(other.labels, one.labels)
        np.testing.assert_array_equal(other.sq_distances, one.sq_distances)
        np.testing.assert_array_equal(other.counts, one.counts)
        np.testing.assert_array_equal(other.sums, one.sums)


def test_distances_never_negative_for_points_on_codes():
    rng = np.random.default_rng(0)
    codebook = rng.normal(loc=1e3, size=(20, 4)).astype(np.float32)
    _, sq = nearest_codes(codebook.copy(), codebook)
    assert np.all(sq >= 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_distances_match_reference(dtype):
    X, codebook, _ = separated_problem(dtype, n_samples=300)
    expected = np.sqrt(
        ((X[:, None].astype(float) - codebook[None].astype(float)) ** 2).sum(-1)
    )
    got = pairwise_distances_chunked(X, codebook)
    assert got.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-9
    np.testing.assert_allclose(
        got**2, expected**2, rtol=rtol, atol=rtol * (X**2).sum(1).max()
    )
