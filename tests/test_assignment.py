"""The assignment kernel against a plain numpy reference."""

import numpy as np
import pytest

from skwvq.kernels import (
    LANES,
    assign,
    nearest_codes,
    pairwise_distances_chunked,
    uses_fused_kernel,
)


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


# 5 features go to the fused kernel, 40 to BLAS (``uses_fused_kernel``).
@pytest.mark.parametrize("n_features", [5, 40])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunk_size", [None, 1, 7, 999, 1000, 5000])
def test_matches_numpy_reference(dtype, chunk_size, n_features):
    assert uses_fused_kernel(5) and not uses_fused_kernel(40)
    X, codebook, weights = separated_problem(dtype, n_features=n_features)
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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "n_features, n_codes",
    [
        (d, k)
        for d in (1, 2, 3, 4, 8, 17, 32)
        for k in (1, LANES - 1, LANES, LANES + 1, 100)
    ]
    # Codebooks as large as the benchmarks'.
    + [(32, 5000), (8, 20000)],
)
def test_fused_kernel_labels_equal_float64_argmin_away_from_ties(
    dtype, n_features, n_codes
):
    # Overlapping Gaussian codes and rows: many near-ties, which rounding in
    # the working precision may decide either way; every other row must match.
    rng = np.random.default_rng(n_features * 1000 + n_codes)
    X = rng.normal(size=(999, n_features)).astype(dtype)
    codebook = rng.normal(size=(n_codes, n_features)).astype(dtype)
    labels, sq = nearest_codes(X, codebook)
    X64, codebook64 = X.astype(np.float64), codebook.astype(np.float64)
    exact = (X64**2).sum(1)[:, None] + (codebook64**2).sum(1) - 2 * X64 @ codebook64.T
    order = np.sort(exact, axis=1)
    margin = order[:, 1] - order[:, 0] if n_codes > 1 else np.full(len(X), np.inf)
    eps = np.finfo(dtype).eps * 64 * (1 + (X.astype(np.float64) ** 2).sum(1))
    clear = margin > eps
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(labels[clear], exact.argmin(1)[clear])
    np.testing.assert_allclose(sq, order[:, 0], rtol=0, atol=float(eps.max()))
    assert sq.dtype == dtype and np.all(sq >= 0)


@pytest.mark.parametrize("n_features", [3, 40])
def test_exact_ties_go_to_the_lowest_index(n_features):
    # The same code at indices 3, 19 and 40 (other lanes, other tiles of the
    # fused kernel): numpy's argmin, and ours, take the first.
    rng = np.random.default_rng(1)
    codebook = rng.normal(size=(50, n_features)).astype(np.float32)
    codebook[19] = codebook[40] = codebook[3]
    X = codebook[3] + rng.normal(scale=1e-3, size=(200, n_features)).astype(np.float32)
    labels, _ = nearest_codes(X, codebook)
    np.testing.assert_array_equal(labels, 3)


@pytest.mark.parametrize("n_features", [3, 40])
def test_given_row_norms_are_the_ones_added(n_features):
    X, codebook, _ = separated_problem(np.float64, n_features=n_features)
    labels, sq = nearest_codes(X, codebook)
    shifted = np.einsum("ij,ij->i", X, X) + 1.0
    given_labels, given_sq = nearest_codes(X, codebook, x_sq_norms=shifted)
    np.testing.assert_array_equal(given_labels, labels)
    np.testing.assert_allclose(given_sq, sq + 1.0, rtol=1e-12)
