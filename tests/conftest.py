"""Shared fixtures: small synthetic data sets and the backends that every estimator test runs on."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest
import scipy.sparse as sp

from skwvq.datasets import mismatched_gaussian


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    """Hold torch's CPU ops at one thread for the whole session.

    The tests' problems are small, and under ``pytest -n 2`` (or beside any
    other busy process) torch's OpenMP pool of one thread per core
    oversubscribes the cores: its spinning barriers then made a small torch
    CPU fit ten times slower (2.9 s against 0.22 s on two busy cores).
    """
    if importlib.util.find_spec("torch") is None:
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def blobs():
    """Well-separated Gaussian blobs in 4-D, float64."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(8, 4))
    labels = rng.integers(8, size=1200)
    return centres[labels] + rng.normal(size=(1200, 4))


def _make_problem(n_samples=4000, n_features=8, n_clusters=64, shift=8.0, seed=0):
    """The paper's mismatched start: data N(shift * 1, I), codebook drawn from N(0, I).

    Every code starts ``shift * sqrt(n_features)`` away from the data, the
    case in which Lloyd's rule leaves most codes dead. Fresh float64 arrays on
    every call, so that a fit that wrote into its input could spoil no other.
    """
    X, init = mismatched_gaussian(
        n_samples=n_samples,
        n_features=n_features,
        n_clusters=n_clusters,
        shift=shift,
        random_state=seed,
    )
    return X.astype(np.float64), init.astype(np.float64)


@pytest.fixture(scope="session")
def make_problem():
    """``make_problem(n_samples=, n_features=, n_clusters=, shift=, seed=) -> (X, init)``."""
    return _make_problem


@dataclass(frozen=True)
class Backend:
    """One backend of the estimator, and how to hand it data and read its results.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"torch-cpu"`` or ``"torch-cuda"``.
    params : dict
        The estimator keywords that select it: ``{"backend": "numpy"}`` or
        ``{"backend": "torch", "device": ...}``.
    device : str
        ``"cpu"`` or ``"cuda"``: where its arrays live.
    """

    name: str
    params: dict = field(hash=False)
    device: str = "cpu"

    @property
    def is_torch(self) -> bool:
        return self.params["backend"] == "torch"

    @property
    def rerun_atol(self) -> float:
        """How far two runs of the same fit may differ: 0 on the CPU.

        CUDA's ``index_add_`` sums with atomics in no fixed order, so there the
        same run is the same only up to float64 rounding (two runs on an H100
        differed by 2e-15).
        """
        return 1e-10 if self.device == "cuda" else 0.0

    def assert_fitted_here(self, estimator):
        """The fit ran on this backend and device (not quietly on another)."""
        assert estimator.backend_ == self.params["backend"], estimator.backend_
        assert estimator.device_.split(":")[0] == self.device, estimator.device_

    def asarray(self, X):
        """numpy input as this backend's native array: a copy, or a tensor on the device.

        Scipy sparse matrices become sparse CSR tensors for torch.
        """
        if not self.is_torch:
            return X.copy() if isinstance(X, np.ndarray) else X
        import torch

        if sp.issparse(X):
            return torch.tensor(X.toarray(), device=self.device).to_sparse_csr()
        return torch.tensor(np.asarray(X), device=self.device)

    def to_numpy(self, a):
        """A result of the estimator on native input, as numpy (scipy for sparse).

        Fails unless ``a`` is of the backend's native kind: a numpy array or a
        scipy sparse matrix for numpy, a tensor on the backend's device for
        torch. Tensor input must give tensors back, numpy input numpy.
        """
        if not self.is_torch:
            assert isinstance(a, np.ndarray) or sp.issparse(a), type(a)
            return a
        import torch

        assert isinstance(a, torch.Tensor), type(a)
        assert a.device.type == self.device, a.device
        a = a.detach().cpu()
        if a.layout == torch.sparse_csr:
            return sp.csr_matrix(
                (a.values().numpy(), a.col_indices().numpy(), a.crow_indices().numpy()),
                shape=tuple(a.shape),
            )
        assert a.layout == torch.strided, a.layout
        return a.numpy()


@pytest.fixture(params=["numpy", "torch-cpu", "torch-cuda"])
def backend(request):
    """Every backend the estimator runs on here; torch ones are skipped without torch or CUDA."""
    if request.param == "numpy":
        return Backend("numpy", {"backend": "numpy"})
    torch = pytest.importorskip("torch")
    device = request.param.removeprefix("torch-")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    return Backend(request.param, {"backend": "torch", "device": device}, device)


@pytest.fixture(params=["tqdm", "no tqdm"])
def progress_reporter(request, monkeypatch):
    """Each progress test twice: with tqdm's bars, and with tqdm made unimportable."""
    if request.param == "tqdm":
        pytest.importorskip("tqdm")
    else:
        monkeypatch.setitem(sys.modules, "tqdm", None)
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    return request.param
