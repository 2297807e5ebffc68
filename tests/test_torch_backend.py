"""What is particular to the torch backend, and its agreement with the numpy backend.

What every backend must do (fit, predict, transform, score, partial_fit, bad
input) is tested once per backend through the ``backend`` fixture of
conftest.py, in test_estimator.py, test_streaming.py and test_bad_input.py.
Here: whole fits, mini-batch fits, streams and weighted fits on torch agree
with the same fits on numpy (the reference); what torch alone has (tensors in
and out with ``backend="auto"``, half precision, devices, pickling, the fused
CUDA kernel, running without torch); and the building blocks on tensors. The
tests run on each device in ``DEVICES``, so on a GPU where one is present.
"""

import pickle
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import skwvq.backends as backends
from skwvq import WassersteinVQ
from skwvq.alignment import (
    gaussian_targets,
    sliced_data_side,
    sliced_targets,
    weighted_moments,
)
from skwvq.metrics import (
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
    wasserstein_distance,
)
from skwvq.update import update_codebook

torch = pytest.importorskip("torch")

DEVICES = [
    "cpu",
    pytest.param(
        "cuda",
        marks=pytest.mark.skipif(
            not torch.cuda.is_available(), reason="no CUDA device"
        ),
    ),
]
ALIGNMENTS = ("sliced", "gaussian", "exact")
N_CLUSTERS = 32

# torch warns that sparse CSR tensors (the "onehot" encoding) are in beta.
pytestmark = pytest.mark.filterwarnings("ignore:Sparse:UserWarning")


@pytest.fixture
def problem(make_problem):
    """Data N(4, I) in d=6 and a far-away codebook of 32 codes from N(0, I): every code must travel ~10.

    Fresh arrays for every test, so that a fit that wrote into its input
    could not spoil the tests after it.
    """
    return make_problem(n_samples=3000, n_features=6, n_clusters=N_CLUSTERS, shift=4.0)


def on_host(a):
    return a.detach().cpu().numpy()


def to_device(a, device):
    return torch.tensor(a, device=device)


def assert_on(tensor, device):
    assert isinstance(tensor, torch.Tensor), type(tensor)
    assert tensor.device.type == device


# --------------------------------------------------------------------------- #
# Tolerances. The data have unit spread around 4 (codes of norm ~10).
#
# float64: both backends run the same algorithm in the same order; measured
# agreement is ~1e-15 on the CPU and ~5e-15 on an H100, so 1e-8 (absolute, ~1e-9
# of the data scale) leaves room for rounding and for nothing else.
#
# float32: assignments are computed in float32 (expanded-form distances of
# magnitude ~100, rounding ~1e-5). Here the float32 codebooks came out
# bit-identical to numpy's on the CPU and on an H100, but another GPU, library
# version or problem size may round a GEMM differently and flip a near-tie
# argmin; one flipped sample moves its two codes by ~|x - m| / n_k: ~1e-2 in a
# full-batch fit (n_k ~ 94 samples per code), up to ~0.06 in a mini-batch fit,
# whose running statistics hold ~50 rows per code and carry the flip into the
# next batches' updates of neighbouring codes (seen on the CPU: one near tie in
# the 5th epoch of a Gaussian mini-batch fit moved 4 of 32 codes by 0.02-0.06).
# So float32 allows a few codes (<= 1/8, and at least the two codes of one
# flipped sample) to differ by up to 0.1 while the rest must agree within 1e-3
# -- a wrong update, target, weight or cast moves every code by far more.
# --------------------------------------------------------------------------- #
F32_CODE_ATOL = 1e-3
F32_FEW_CODES_ATOL = 0.1
F32_MAX_FRACTION_OFF = 0.125


def assert_codebooks_agree(got, expected):
    assert got.dtype == expected.dtype
    assert got.shape == expected.shape
    if expected.dtype == np.float64:
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-8)
        return
    per_code = np.abs(got.astype(np.float64) - expected).max(axis=1)
    assert per_code.max() <= F32_FEW_CODES_ATOL, per_code
    allowed = max(2, F32_MAX_FRACTION_OFF * per_code.size)
    assert np.sum(per_code > F32_CODE_ATOL) <= allowed, per_code


def assert_labels_agree(got, expected, min_fraction=0.99):
    assert got.shape == expected.shape
    assert np.mean(got == expected) >= min_fraction


def metric_tolerances(dtype):
    """(rtol for E, C and W; atol for U) between the two backends' codebooks."""
    if dtype == np.float64:
        return 1e-9, 1e-12
    # A few flipped samples change E, C and W by well under 0.5%, and U by at
    # most one code (1 / 32) -- dead or resurrected codes would change U by more.
    return 5e-3, 1.01 / N_CLUSTERS


def assert_metrics_agree(X, got, expected, dtype):
    rtol, u_atol = metric_tolerances(dtype)
    E = quantization_error(X, got), quantization_error(X, expected)
    assert E[0] == pytest.approx(E[1], rel=rtol)
    U = codebook_utilization(X, got), codebook_utilization(X, expected)
    assert abs(U[0] - U[1]) <= u_atol
    C = codebook_perplexity(X, got), codebook_perplexity(X, expected)
    assert C[0] == pytest.approx(C[1], rel=rtol)
    for method in ("sliced", "gaussian"):
        W = [
            wasserstein_distance(X, cb, method=method, random_state=0)
            for cb in (got, expected)
        ]
        assert W[0] == pytest.approx(W[1], rel=rtol), method


def assert_histories_agree(got, expected, dtype):
    rtol, u_atol = metric_tolerances(dtype)
    assert got.keys() == expected.keys()
    for key in ("J", "E", "C", "W", "alignment_weight"):
        np.testing.assert_allclose(got[key], expected[key], rtol=rtol, err_msg=key)
    np.testing.assert_allclose(got["U"], expected["U"], rtol=0, atol=u_atol)


def fit_both(X, device, **params):
    """The same fit on the numpy backend and on the torch backend on ``device``."""
    reference = WassersteinVQ(backend="numpy", **params).fit(X)
    fitted = WassersteinVQ(backend="torch", device=device, **params).fit(X)
    assert reference.backend_ == "numpy" and reference.device_ == "cpu"
    assert fitted.backend_ == "torch"
    assert torch.device(fitted.device_).type == device
    return fitted, reference


def assert_fits_agree(X, fitted, reference):
    dtype = X.dtype
    assert isinstance(fitted.codebook_, np.ndarray)
    assert isinstance(fitted.labels_, np.ndarray)
    assert fitted.n_iter_ == reference.n_iter_
    assert_codebooks_agree(fitted.codebook_, reference.codebook_)
    assert_labels_agree(fitted.labels_, reference.labels_)
    assert fitted.inertia_ == pytest.approx(
        reference.inertia_, rel=metric_tolerances(dtype)[0]
    )
    assert_metrics_agree(X, fitted.codebook_, reference.codebook_, dtype)
    assert_histories_agree(fitted.history_, reference.history_, dtype)


# --------------------------------------------------------------------------- #
# Backend agreement: whole fits
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_full_batch_fit_agrees_with_numpy(problem, alignment, dtype, device):
    X, init = (a.astype(dtype) for a in problem)
    fitted, reference = fit_both(
        X,
        device,
        n_clusters=N_CLUSTERS,
        alignment=alignment,
        init=init,
        random_state=0,
        max_iter=15,
    )
    assert fitted.codebook_.dtype == dtype
    # The far start (E = 70) was overcome, else agreement would prove little.
    assert quantization_error(X, reference.codebook_) < 3.0
    assert reference.history_["U"][-1] == 1.0
    assert_fits_agree(X, fitted, reference)


# float32 mini-batch runs are compared over 5 epochs rather than 15: a running
# mini-batch fit carries every flipped near-tie argmin into all later batches'
# statistics, so where a GPU's float32 GEMM rounds differently the two runs can
# drift apart chaotically after ~10 epochs while both stay equally good. (On
# this problem they stayed bit-identical over 15 epochs on an H100, so this is
# margin, not a measured need.) Five epochs still cover the whole far-start
# transit (E 70 -> 2.5) and 30 batches; float64 has no such near ties and is
# compared over all 15 epochs.
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype, max_iter", [(np.float32, 5), (np.float64, 15)])
@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_minibatch_fit_agrees_with_numpy(problem, alignment, dtype, max_iter, device):
    X, init = (a.astype(dtype) for a in problem)
    fitted, reference = fit_both(
        X,
        device,
        n_clusters=N_CLUSTERS,
        alignment=alignment,
        init=init,
        random_state=0,
        max_iter=max_iter,
        batch_size=500,
        max_no_improvement=None,
    )
    assert reference.n_iter_ == max_iter  # no stopping rule ended either run
    assert_fits_agree(X, fitted, reference)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_weighted_fit_agrees_with_numpy(problem, device, dtype, as_tensor):
    X, init = (a.astype(dtype) for a in problem)
    weights = np.random.default_rng(3).uniform(0.2, 3.0, len(X))
    params = dict(n_clusters=N_CLUSTERS, init=init, random_state=0, max_iter=10)
    reference = WassersteinVQ(backend="numpy", **params).fit(X, sample_weight=weights)
    unweighted = WassersteinVQ(backend="numpy", **params).fit(X)
    assert np.abs(unweighted.codebook_ - reference.codebook_).max() > 1e-2

    X_in = torch.tensor(X, device=device) if as_tensor else X.copy()
    fitted = WassersteinVQ(backend="torch", device=device, **params).fit(
        X_in, sample_weight=weights
    )
    # The caller's data are read, never written.
    np.testing.assert_array_equal(on_host(X_in) if as_tensor else X_in, X)
    assert_codebooks_agree(fitted.codebook_, reference.codebook_)
    assert_labels_agree(fitted.labels_, reference.labels_)
    assert fitted.inertia_ == pytest.approx(
        reference.inertia_, rel=metric_tolerances(dtype)[0]
    )
    assert_histories_agree(fitted.history_, reference.history_, dtype)


# --------------------------------------------------------------------------- #
# Torch tensors in, tensors out
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("device", DEVICES)
def test_tensor_input_selects_torch_on_its_device_and_returns_tensors(problem, device):
    """backend="auto" follows the tensor; what comes back has torch's dtypes.

    The values of predict, transform and inverse_transform on tensors are
    held to numpy references in test_estimator.py (backend fixture).
    """
    X, init = problem
    X_tensor = torch.tensor(X, device=device)
    vq = WassersteinVQ(N_CLUSTERS, init=init, random_state=0, max_iter=5)
    labels = vq.fit_predict(X_tensor)

    assert vq.backend_ == "torch"
    assert torch.device(vq.device_).type == device
    assert isinstance(vq.codebook_, np.ndarray) and vq.codebook_.dtype == np.float64
    assert isinstance(vq.labels_, np.ndarray)
    assert_on(labels, device)
    assert labels.dtype == torch.int64 and labels.shape == (len(X),)
    np.testing.assert_array_equal(on_host(labels), vq.labels_)

    codebook_tensor = vq.codebook_tensor_
    assert_on(codebook_tensor, device)
    assert codebook_tensor.dtype == torch.float64
    np.testing.assert_array_equal(on_host(codebook_tensor), vq.codebook_)
    fitted = vq.codebook_.copy()
    codebook_tensor += 1.0  # a copy: editing it leaves the fitted codebook alone
    np.testing.assert_array_equal(vq.codebook_, fitted)
    np.testing.assert_array_equal(on_host(vq.codebook_tensor_), fitted)

    assert isinstance(vq.score(X_tensor), float)
    dtypes = {"quantized": torch.float64, "distance": torch.float64}
    dtypes.update(ordinal=torch.int64, onehot=torch.float64)
    for encode, dtype in dtypes.items():
        encoded = vq.set_params(encode=encode).transform(X_tensor)
        assert_on(encoded, device)
        assert encoded.dtype == dtype, encode
        expected_layout = torch.sparse_csr if encode == "onehot" else torch.strided
        assert encoded.layout == expected_layout, encode
        decoded = vq.inverse_transform(encoded)
        assert_on(decoded, device)
        assert decoded.dtype == torch.float64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_half_precision_tensors_compute_in_float32(problem, half, device):
    X, init = problem
    X_half = torch.tensor(X, device=device).to(getattr(torch, half))
    rounded = on_host(X_half.float())
    # The rounding is real: the reference must be fitted to the rounded values.
    assert np.abs(rounded - X.astype(np.float32)).max() > 1e-3
    params = dict(
        n_clusters=N_CLUSTERS,
        alignment="gaussian",
        init=init,
        random_state=0,
        max_iter=10,
    )
    vq = WassersteinVQ(**params).fit(X_half)
    reference = WassersteinVQ(backend="numpy", **params).fit(rounded)

    assert vq.backend_ == "torch"
    assert vq.codebook_.dtype == np.float32
    assert reference.codebook_.dtype == np.float32
    assert_codebooks_agree(vq.codebook_, reference.codebook_)
    assert_labels_agree(vq.labels_, reference.labels_)
    labels = vq.predict(X_half)
    assert_on(labels, device)
    assert_labels_agree(on_host(labels), reference.predict(rounded))
    quantized = vq.transform(X_half)
    assert_on(quantized, device)
    assert quantized.dtype == torch.float32


@pytest.mark.parametrize("device", DEVICES)
def test_numpy_input_on_torch_backend_returns_numpy(problem, device):
    X, init = problem
    params = dict(n_clusters=N_CLUSTERS, init=init, random_state=0, max_iter=5)
    reference = WassersteinVQ(backend="numpy", **params).fit(X)
    vq = WassersteinVQ(backend="torch", device=device, **params).fit(X)
    assert vq.backend_ == "torch" and torch.device(vq.device_).type == device

    labels = vq.predict(X)
    assert type(labels) is np.ndarray and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, reference.predict(X))
    for encode in ("quantized", "distance", "ordinal", "onehot"):
        vq.set_params(encode=encode)
        reference.set_params(encode=encode)
        encoded, expected = vq.transform(X), reference.transform(X)
        if encode == "onehot":
            assert sp.issparse(encoded), type(encoded)
            np.testing.assert_array_equal(encoded.toarray(), expected.toarray())
        else:
            assert type(encoded) is np.ndarray, (encode, type(encoded))
            np.testing.assert_allclose(encoded, expected, rtol=1e-10, atol=1e-10)
        decoded = vq.inverse_transform(encoded)
        assert type(decoded) is np.ndarray
    assert vq.score(X) == pytest.approx(reference.score(X), rel=1e-10)


# --------------------------------------------------------------------------- #
# One random_state, one run on either backend
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("init", ["random", "k-means++", "gaussian"])
def test_random_state_drives_tensor_input_as_numpy_input(problem, init, device):
    X, _ = problem
    X = X[:1000]
    X_tensor = torch.tensor(X, device=device)
    # One Lloyd step (no alignment) from the drawn codebook: the init itself.
    start = dict(n_clusters=N_CLUSTERS, init=init, max_iter=1, alignment_weight=0.0)
    from_numpy = WassersteinVQ(random_state=5, **start).fit(X)
    from_tensor = WassersteinVQ(random_state=5, **start).fit(X_tensor)
    assert from_numpy.backend_ == "numpy" and from_tensor.backend_ == "torch"
    np.testing.assert_allclose(from_tensor.codebook_, from_numpy.codebook_, atol=1e-10)
    reseeded = WassersteinVQ(random_state=6, **start).fit(X_tensor)
    assert np.abs(reseeded.codebook_ - from_numpy.codebook_).max() > 1e-3

    # And whole fits: the OT sample and the sliced directions come from it too.
    whole = dict(n_clusters=N_CLUSTERS, init=init, max_iter=5, random_state=5)
    fit_numpy = WassersteinVQ(**whole).fit(X)
    fit_tensor = WassersteinVQ(**whole).fit(X_tensor)
    np.testing.assert_allclose(fit_tensor.codebook_, fit_numpy.codebook_, atol=1e-8)
    np.testing.assert_allclose(fit_tensor.history_["W"], fit_numpy.history_["W"])


# --------------------------------------------------------------------------- #
# partial_fit
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("tensor_batches", [False, True])
@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_partial_fit_agrees_with_numpy(problem, alignment, tensor_batches, device):
    X, _ = problem
    # Random rows, not k-means++ on the first batch, so that the stream has
    # error left to remove (the progress asserted at the end).
    params = dict(
        n_clusters=N_CLUSTERS, alignment=alignment, init="random", random_state=0
    )
    reference = WassersteinVQ(backend="numpy", **params)
    streamed = WassersteinVQ(backend="torch", device=device, **params)
    for batch in np.array_split(X[:2000], 4):
        reference.partial_fit(batch)
        streamed.partial_fit(
            torch.tensor(batch, device=device) if tensor_batches else batch
        )
    assert streamed.backend_ == "torch" and streamed.n_iter_ == 4
    assert torch.device(streamed.device_).type == device
    assert_codebooks_agree(streamed.codebook_, reference.codebook_)
    np.testing.assert_array_equal(streamed.labels_, reference.labels_)
    assert streamed.inertia_ == pytest.approx(reference.inertia_, rel=1e-9)
    assert_histories_agree(streamed.history_, reference.history_, np.float64)
    # The stream made progress from its first batch (agreement is not trivial).
    assert reference.history_["E"][-1] < reference.history_["E"][0]


@pytest.mark.parametrize("alignment", ALIGNMENTS)
def test_partial_fit_stream_may_mix_tensors_and_arrays(problem, alignment):
    """backend="auto" follows each batch; the stream carries on across the switch."""
    X, _ = problem
    # Random rows, not k-means++ on the first batch, so that the stream has
    # error left to remove (the progress asserted at the end).
    params = dict(
        n_clusters=N_CLUSTERS, alignment=alignment, init="random", random_state=0
    )
    reference = WassersteinVQ(backend="numpy", **params)
    mixed = WassersteinVQ(**params)
    for step, batch in enumerate(np.array_split(X[:2000], 4)):
        reference.partial_fit(batch)
        mixed.partial_fit(torch.tensor(batch) if step % 2 == 0 else batch)
        assert mixed.backend_ == ("torch" if step % 2 == 0 else "numpy")
    assert_codebooks_agree(mixed.codebook_, reference.codebook_)
    assert_histories_agree(mixed.history_, reference.history_, np.float64)


def test_weighted_partial_fit_agrees_with_numpy(problem):
    X, _ = problem
    weights = np.random.default_rng(3).uniform(0.2, 3.0, len(X))
    params = dict(n_clusters=N_CLUSTERS, random_state=0)
    reference = WassersteinVQ(backend="numpy", **params)
    streamed = WassersteinVQ(backend="torch", device="cpu", **params)
    for rows in np.array_split(np.arange(2000), 4):
        batch = X[rows]
        reference.partial_fit(batch, sample_weight=weights[rows])
        streamed.partial_fit(batch, sample_weight=weights[rows])
        np.testing.assert_array_equal(batch, X[rows])  # not written to
    assert_codebooks_agree(streamed.codebook_, reference.codebook_)
    assert streamed.inertia_ == pytest.approx(reference.inertia_, rel=1e-9)
    assert_histories_agree(streamed.history_, reference.history_, np.float64)


# --------------------------------------------------------------------------- #
# Devices
# --------------------------------------------------------------------------- #
@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
@pytest.mark.parametrize("backend_name", ["auto", "torch"])
def test_cuda_without_a_cuda_device_is_refused(problem, backend_name):
    X, _ = problem
    with pytest.raises(ValueError, match="CUDA"):
        WassersteinVQ(8, backend=backend_name, device="cuda").fit(X[:100])


def test_numpy_backend_refuses_a_gpu_device(problem):
    X, _ = problem
    with pytest.raises(ValueError, match="backend='torch'"):
        WassersteinVQ(8, backend="numpy", device="cuda").fit(X[:100])


@pytest.mark.parametrize("backend_name", ["auto", "torch"])
def test_unknown_device_is_refused(problem, backend_name):
    X, _ = problem
    with pytest.raises(ValueError, match="not a torch device"):
        WassersteinVQ(8, backend=backend_name, device="not-a-device").fit(X[:100])


# --------------------------------------------------------------------------- #
# Without torch
# --------------------------------------------------------------------------- #
@pytest.fixture
def fresh_torch_backends():
    """No cached TorchBackend survives into or out of the test."""
    backends.torch_backend.cache_clear()
    yield
    backends.torch_backend.cache_clear()


def test_without_torch_the_torch_backend_says_how_to_install(
    problem, monkeypatch, fresh_torch_backends
):
    X, _ = problem
    X = X[:300]
    params = dict(n_clusters=8, random_state=0, max_iter=3)
    expected = WassersteinVQ(backend="numpy", **params).fit(X).codebook_
    # Fitted while torch is present, used while it is not.
    from_torch = WassersteinVQ(backend="torch", device="cpu", **params).fit(X)
    backends.torch_backend.cache_clear()
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError):
        __import__("torch")
    assert not backends.is_tensor(X)  # sys.modules["torch"] is None here

    with pytest.raises(ImportError, match="pip install"):
        WassersteinVQ(backend="torch", **params).fit(X)
    with pytest.raises(ImportError, match="pip install"):
        WassersteinVQ(device="cpu", **params).fit(X)  # a device means torch
    with pytest.raises(ImportError, match="pip install"):
        from_torch.codebook_tensor_  # noqa: B018

    vq = WassersteinVQ(**params).fit(X)
    assert vq.backend_ == "numpy"
    np.testing.assert_array_equal(vq.codebook_, expected)
    labels = vq.predict(X)
    assert type(labels) is np.ndarray
    np.testing.assert_array_equal(labels, vq.labels_)
    assert sp.issparse(vq.set_params(encode="onehot").transform(X))


# --------------------------------------------------------------------------- #
# Building blocks: the same function on numpy arrays and on tensors
# --------------------------------------------------------------------------- #
BLOCK_RTOL, BLOCK_ATOL = 1e-10, 1e-12


def assert_blocks_agree(got, expected, device):
    assert_on(got, device)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(on_host(got), expected, rtol=BLOCK_RTOL, atol=BLOCK_ATOL)


@pytest.fixture(scope="module")
def blocks():
    rng = np.random.default_rng(11)
    mixing = rng.normal(size=(5, 5))
    X = rng.normal(size=(700, 5)) @ mixing + np.arange(5.0)
    directions = rng.normal(size=(5, 70))  # 70 > one block of 64 directions
    directions /= np.linalg.norm(directions, axis=0)
    return dict(
        X=X,
        weights=rng.uniform(0.1, 2.0, len(X)),
        codebook=rng.normal(size=(N_CLUSTERS, 5)) * 0.5,
        directions=directions,
        targets=rng.normal(size=(N_CLUSTERS, 5)),
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("weighted", [False, True])
def test_weighted_moments_agree(blocks, device, weighted):
    X = blocks["X"]
    w = blocks["weights"] if weighted else None
    mean, cov = weighted_moments(X, w)
    mean_t, cov_t = weighted_moments(
        to_device(X, device), None if w is None else to_device(w, device)
    )
    assert_blocks_agree(mean_t, mean, device)
    assert_blocks_agree(cov_t, cov, device)
    # The weights were used (so agreement is about them too).
    if weighted:
        assert np.abs(mean - X.mean(axis=0)).max() > 1e-3


@pytest.mark.parametrize("device", DEVICES)
def test_gaussian_targets_agree(blocks, device):
    mean, cov = weighted_moments(blocks["X"], blocks["weights"])
    targets, w2 = gaussian_targets(blocks["codebook"], mean, cov)
    targets_t, w2_t = gaussian_targets(
        to_device(blocks["codebook"], device),
        to_device(mean, device),
        to_device(cov, device),
    )
    assert_blocks_agree(targets_t, targets, device)
    assert isinstance(w2_t, float)
    assert w2_t == pytest.approx(w2, rel=BLOCK_RTOL)
    # The targets moved the codes (the blocks are not trivially equal).
    assert np.abs(targets - blocks["codebook"]).max() > 1.0


@pytest.mark.parametrize("device", DEVICES)
def test_sliced_blocks_agree(blocks, device):
    X, codebook, directions = blocks["X"], blocks["codebook"], blocks["directions"]
    masses = blocks["weights"] / blocks["weights"].sum()
    side = sliced_data_side(X, masses, directions, N_CLUSTERS)
    targets, w2 = sliced_targets(codebook, directions, *side)
    side_t = sliced_data_side(
        to_device(X, device),
        to_device(masses, device),
        to_device(directions, device),
        N_CLUSTERS,
    )
    for got, expected in zip(side_t, side):
        assert_blocks_agree(got, expected, device)
    targets_t, w2_t = sliced_targets(
        to_device(codebook, device), to_device(directions, device), *side_t
    )
    assert_blocks_agree(targets_t, targets, device)
    assert w2_t == pytest.approx(w2, rel=BLOCK_RTOL)
    assert np.abs(targets - codebook).max() > 1.0


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("g", [0.0, 0.3, 1.0])
def test_update_codebook_agrees(blocks, device, g):
    rng = np.random.default_rng(4)
    codebook, targets = blocks["codebook"], blocks["targets"]
    mass = rng.uniform(0.0, 1.0, N_CLUSTERS)
    mass[[0, 5]] = 0.0  # empty codes: stay (g = 0) or go to their targets
    mass /= mass.sum()
    sums = mass[:, None] * rng.normal(size=codebook.shape)
    updated = update_codebook(codebook, mass, sums, targets, g)
    updated_t = update_codebook(
        to_device(codebook, device),
        to_device(mass, device),
        to_device(sums, device),
        to_device(targets, device),
        g,
    )
    assert_blocks_agree(updated_t, updated, device)
    # Float32 codebooks stay float32 on both backends.
    updated_32 = update_codebook(
        to_device(codebook, device).float(),
        to_device(mass, device),
        to_device(sums, device),
        to_device(targets, device),
        g,
    )
    assert updated_32.dtype == torch.float32
    np.testing.assert_allclose(on_host(updated_32), updated, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- #
# Pickle
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("device", DEVICES)
def test_torch_fitted_estimator_pickles(problem, device):
    X, init = problem
    X = X[:1000]
    vq = WassersteinVQ(
        N_CLUSTERS, init=init, random_state=0, max_iter=5, device=device
    ).fit(X)
    restored = pickle.loads(pickle.dumps(vq))
    assert restored.backend_ == "torch" and restored.device_ == vq.device_
    np.testing.assert_array_equal(restored.codebook_, vq.codebook_)
    # Labels checked against a direct numpy computation, not only the original's.
    expected = np.argmin(
        ((X[:, None, :] - vq.codebook_[None, :, :]) ** 2).sum(axis=2), axis=1
    )
    np.testing.assert_array_equal(restored.predict(X), expected)
    X_tensor = torch.tensor(X, device=device)
    np.testing.assert_array_equal(on_host(restored.predict(X_tensor)), expected)


def test_partially_fitted_torch_estimator_pickles_and_resumes(problem):
    X, _ = problem
    batches = np.array_split(X[:2000], 4)
    vq = WassersteinVQ(N_CLUSTERS, backend="torch", device="cpu", random_state=0)
    for batch in batches[:2]:
        vq.partial_fit(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pickling warnings either
        restored = pickle.loads(pickle.dumps(vq))
    for batch in batches[2:]:
        vq.partial_fit(batch)
        restored.partial_fit(batch)
    np.testing.assert_array_equal(restored.codebook_, vq.codebook_)
    reference = WassersteinVQ(N_CLUSTERS, backend="numpy", random_state=0)
    for batch in batches:
        reference.partial_fit(batch)
    assert_codebooks_agree(restored.codebook_, reference.codebook_)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("n_features", [3, 64, 128, 200])
def test_fused_cuda_kernel_matches_float64_argmin(n_features):
    """The fused Triton kernel labels as a float64 argmin does, bar near-ties.

    200 features exceed the fused kernel's width and take the blocked path.
    """
    fused = backends.TorchBackend("cuda")
    if fused.fused is None:
        pytest.skip("Triton is not installed")
    blocked = backends.TorchBackend("cuda", fused=False)
    generator = torch.Generator(device="cuda").manual_seed(0)
    X = torch.randn(50_000, n_features, device="cuda", generator=generator)
    codebook = torch.randn(1000, n_features, device="cuda", generator=generator)
    weights = torch.rand(50_000, device="cuda", generator=generator)
    got = fused.assign(X, codebook, sample_weight=weights)
    other = blocked.assign(X, codebook, sample_weight=weights)

    distances = (
        (codebook.double() ** 2).sum(1) - 2 * X.double() @ codebook.double().T
    ) + (X.double() ** 2).sum(1)[:, None]
    nearest = distances.min(dim=1).values
    chosen = distances.gather(1, got.labels[:, None])[:, 0]
    # Every label is the nearest code up to float32 rounding of the distances.
    assert torch.all(chosen - nearest <= 1e-4 * (1 + nearest))
    assert (got.labels == distances.argmin(dim=1)).double().mean() > 0.999
    assert (got.labels == other.labels).double().mean() > 0.999
    torch.testing.assert_close(got.sq_distances.double(), nearest, rtol=1e-4, atol=1e-3)
    # Host rows travel chunk by chunk through the same kernel.
    host = fused.assign(X.cpu().numpy(), codebook)
    assert (host.labels == got.labels).double().mean() > 0.999
    torch.testing.assert_close(
        got.counts, torch.bincount(got.labels, weights=weights.double(), minlength=1000)
    )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("chunk_size", [None, 1, 999])
def test_device_kernel_matches_float64_argmin_on_cpu_tensors(dtype, chunk_size):
    """``skwvq.kernels._torch`` (the GPU path: addmm + min), run on CPU tensors.

    On the CPU the torch backend hands tensors to the numpy kernels, so this
    is where the device kernel itself is checked without a GPU.
    """
    from skwvq.kernels import _torch as device_kernels

    generator = torch.Generator().manual_seed(0)
    codebook = 10 * torch.randn(37, 5, generator=generator, dtype=torch.float64)
    nearest = torch.randint(37, (1000,), generator=generator)
    X = codebook[nearest] + 0.5 * torch.randn(
        1000, 5, generator=generator, dtype=torch.float64
    )
    weights = torch.rand(1000, generator=generator, dtype=torch.float64) + 0.1
    result = device_kernels.assign(
        X.to(dtype),
        codebook.to(dtype),
        lambda X, index: X[index],
        sample_weight=weights,
        chunk_size=chunk_size,
    )
    torch.testing.assert_close(result.labels, nearest)
    expected = ((X - codebook[nearest]) ** 2).sum(1)
    tolerance = 1e-3 if dtype == torch.float32 else 1e-9
    torch.testing.assert_close(
        result.sq_distances.double(), expected, rtol=tolerance, atol=tolerance * 100
    )
    torch.testing.assert_close(
        result.counts, torch.bincount(nearest, weights=weights, minlength=37)
    )
    sums = torch.zeros(37, 5, dtype=torch.float64).index_add_(
        0, nearest, weights[:, None] * X.to(dtype).double()
    )
    torch.testing.assert_close(result.sums, sums)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_tensors_take_the_numpy_kernels_and_come_back_as_tensors(dtype):
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(500, 4, generator=generator, dtype=dtype, requires_grad=True)
    codebook = torch.randn(20, 4, generator=generator, dtype=dtype)
    result = backends.TorchBackend("cpu").assign(X, codebook)
    expected = backends.backend_of().assign(X.detach().numpy(), codebook.numpy())
    for name in ("labels", "sq_distances", "counts", "sums"):
        got = getattr(result, name)
        assert isinstance(got, torch.Tensor), name
        np.testing.assert_array_equal(got.numpy(), getattr(expected, name))
    assert result.sq_distances.dtype == dtype
