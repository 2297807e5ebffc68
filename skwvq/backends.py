"""Array backends: POT's numpy and torch backends, extended with the fit loop's assignment kernels."""

from __future__ import annotations

import sys
import warnings
from functools import lru_cache

import numpy as np
import ot.backend
import scipy.sparse as sp
from sklearn.utils.extmath import row_norms

from .assignment import Assignment, assign, pairwise_distances_chunked

BACKENDS = ("auto", "numpy", "torch")
# Rows per chunk of the passes that stream X through host memory (moments,
# copies to a device): a few MB per chunk whatever N is.
CHUNK_ROWS = 65536
# Rows per launch of the fused kernel: its first call on a shape tunes its tiles
# on one such chunk.
_FUSED_CHUNK_ROWS = 1 << 20
# On a GPU the distance block of a chunk lives in device memory between the
# matrix product that writes it and the min that reads it: large enough that
# kernel launches are negligible, small enough to leave room for the data.
# Measured on an H100 (d=64, K=16384): 1 GiB blocks ran at 0.73x the same-shape
# matmul, 256 MiB at 0.70x, 32 MiB at 0.62x; on a smaller card the block is
# held to 1/64 of its memory.
_DEVICE_BLOCK_BYTES = {"cuda": 1 << 30, "cpu": 1 << 23}
_DEVICE_MEMORY_SHARE = 64
# Data are copied to the device whole when they take at most this fraction of
# its free memory; larger data stay on the host and travel chunk by chunk.
_RESIDENT_FRACTION = 0.5

TORCH_MISSING = (
    "backend='torch' needs PyTorch, which is not installed. Install it with "
    "`pip install 'skwvq[torch]'` (or `pip install torch`)."
)


def import_torch():
    """Import torch, or raise an ImportError that says how to install it.

    Examples
    --------
    >>> torch = import_torch()  # doctest: +SKIP
    """
    try:
        import torch
    except ImportError:
        raise ImportError(TORCH_MISSING) from None
    return torch


def is_tensor(a) -> bool:
    """Whether ``a`` is a torch tensor (without importing torch when it is not loaded).

    Examples
    --------
    >>> import numpy as np
    >>> is_tensor(np.zeros(2))
    False
    """
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(a, torch.Tensor)


def slices(n_rows: int, chunk: int):
    """Consecutive row slices of at most ``chunk`` rows covering ``range(n_rows)``.

    Examples
    --------
    >>> slices(5, 2)
    [slice(0, 2, None), slice(2, 4, None), slice(4, 5, None)]
    """
    return [
        slice(start, min(start + chunk, n_rows)) for start in range(0, n_rows, chunk)
    ]


class NumpyBackend(ot.backend.NumpyBackend):
    """numpy arrays on the CPU: threaded BLAS distances and numba per-code sums.

    Extends POT's numpy backend with the operations the fit loop needs beyond
    POT's: fused nearest-code assignment, moving data to the compute device,
    and casting to float64.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.backends import NumpyBackend
    >>> nx = NumpyBackend()
    >>> nx.assign(np.array([[0.0], [4.0]]), np.array([[1.0], [5.0]])).labels
    array([0, 1])
    """

    __name__ = "numpy"
    device = "cpu"

    def asarray(self, a, dtype=None):
        """``a`` as a numpy array (tensors are copied to the host), optionally cast."""
        return np.asarray(to_host(a), dtype=dtype)

    def float64(self, a):
        """``a`` cast to float64 (no copy when it already is)."""
        return self.asarray(a, dtype=np.float64)

    def cast_like(self, a, like):
        """``a`` in the dtype of ``like`` (no copy when it already is)."""
        return a.astype(like.dtype, copy=False)

    def rows(self, X, index):
        """Rows of ``X`` (a slice, an index array or a list of slices) as an array."""
        if isinstance(index, list):
            return np.concatenate([np.asarray(X[span]) for span in index])
        return np.asarray(X[index])

    def place(self, X):
        """The data as the fit loop will read them: numpy arrays stay where they are."""
        return X

    def sq_norms(self, X):
        """Squared norm of every row of ``X``."""
        return row_norms(X, squared=True)

    def assign(
        self, X, codebook, *, sample_weight=None, x_sq_norms=None, chunk_size=None
    ):
        """Nearest codes and per-code statistics; see ``skwvq.assignment.assign``."""
        return assign(
            X,
            codebook,
            sample_weight=sample_weight,
            x_sq_norms=x_sq_norms,
            chunk_size=chunk_size,
        )

    def distances(self, X, codebook):
        """Euclidean distances from every row of ``X`` to every code."""
        return pairwise_distances_chunked(X, codebook)


class TorchBackend(ot.backend.TorchBackend):
    """torch tensors on one device: chunked ``addmm`` + ``min`` and ``index_add_``.

    Extends POT's torch backend with the fit loop's assignment kernel and with
    data placement: numpy data are copied to the device once when they fit in
    half its free memory, and otherwise stay on the host and are copied chunk by
    chunk each pass.

    On a CUDA device with Triton (shipped with PyTorch's CUDA builds), float32
    data of at most 64 features are assigned by the fused kernel of
    ``skwvq.assignment_triton``, which never writes the distance block.

    Parameters
    ----------
    device : str or torch.device
        Where the computation runs, e.g. ``"cuda"``, ``"cuda:1"`` or ``"cpu"``.
    fused : bool, default=None
        Whether a CUDA device uses the fused Triton kernel: None when Triton
        imports, False never (the chunked ``addmm`` + ``min``), True always
        (ImportError without Triton). Other devices always use ``addmm`` + ``min``.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.backends import TorchBackend
    >>> nx = TorchBackend("cpu")  # doctest: +SKIP
    >>> result = nx.assign(nx.asarray(np.array([[0.0], [4.0]])),
    ...                    nx.asarray(np.array([[1.0], [5.0]])))  # doctest: +SKIP
    >>> result.labels  # doctest: +SKIP
    tensor([0, 1])
    """

    __name__ = "torch"

    def __init__(self, device="cpu", fused=None):
        torch = import_torch()
        super().__init__()
        self.torch = torch
        self.device = torch.device(device)
        self.fused = None
        if self.device.type == "cuda" and fused is not False:
            try:
                from . import assignment_triton
            except ImportError:
                if fused:
                    raise
            else:
                self.fused = assignment_triton

    def asarray(self, a, dtype=None):
        """``a`` as a tensor on this backend's device; half precision becomes float32."""
        torch = self.torch
        if not is_tensor(a):
            a = np.asarray(a)
            with warnings.catch_warnings():
                # Read-only arrays (memory maps) are never written through the tensor.
                warnings.simplefilter("ignore", UserWarning)
                a = torch.from_numpy(np.ascontiguousarray(a))
        if dtype is None and a.dtype in (torch.float16, torch.bfloat16):
            dtype = torch.float32
        if isinstance(dtype, (np.dtype, type)) or isinstance(dtype, str):
            dtype = getattr(torch, np.dtype(dtype).name)
        return a.to(device=self.device, dtype=dtype)

    def float64(self, a):
        """``a`` cast to float64 on this backend's device."""
        return self.asarray(a, dtype=self.torch.float64)

    def cast_like(self, a, like):
        """``a`` in the dtype of ``like``."""
        return a.to(like.dtype)

    def rows(self, X, index):
        """Rows of ``X`` (a slice, an index array or a list of slices) on the device."""
        if isinstance(index, list):
            return self.torch.cat([self.rows(X, span) for span in index])
        if is_tensor(X):
            if isinstance(index, np.ndarray):
                index = self.torch.as_tensor(index, device=X.device)
            return self.asarray(X[index])
        return self.asarray(np.asarray(X[index]))

    def place(self, X):
        """``X`` on the device when it fits in half its free memory, else left on the host."""
        torch = self.torch
        if is_tensor(X):
            return self.asarray(X)
        n_bytes = X.shape[0] * X.shape[1] * X.dtype.itemsize
        if self.device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(self.device)
            if n_bytes > _RESIDENT_FRACTION * free:
                return X
        elif self.device.type == "cpu":
            return self.asarray(X)
        placed = torch.empty(
            X.shape, dtype=getattr(torch, X.dtype.name), device=self.device
        )
        for rows in slices(X.shape[0], CHUNK_ROWS):
            placed[rows] = self.asarray(np.asarray(X[rows]))
        return placed

    def sq_norms(self, X):
        """Squared row norms of device data; None for host data (computed per chunk)."""
        if not is_tensor(X):
            return None
        return self.torch.einsum("ij,ij->i", X, X)

    def chunk_rows(self, n_codes: int, itemsize: int) -> int:
        """Rows per chunk so that a chunk's distance block stays within the device budget."""
        budget = _DEVICE_BLOCK_BYTES.get(self.device.type, _DEVICE_BLOCK_BYTES["cuda"])
        if self.device.type == "cuda":
            memory = self.torch.cuda.get_device_properties(self.device).total_memory
            budget = min(budget, memory // _DEVICE_MEMORY_SHARE)
        return max(256, budget // max(1, n_codes * itemsize))

    def assign(
        self, X, codebook, *, sample_weight=None, x_sq_norms=None, chunk_size=None
    ):
        """Nearest codes and per-code statistics, chunk by chunk on the device.

        On CUDA with Triton, float32 and at most 64 features: one fused kernel
        per million rows keeps each row's running minimum in registers. Otherwise
        each chunk of rows is two kernels: an ``addmm`` writing ``||c||^2 - 2 x.c``
        into one reused block, and a ``min`` over codes writing straight into the
        outputs (few launches per chunk keep the GPU, not Python, the
        bottleneck). The counts (``bincount``) and the float64 sums
        (``index_add_``) are then taken in a second pass over X; see ``code_sums``.

        Returns
        -------
        skwvq.assignment.Assignment
            With tensors on the device: labels (int64), squared distances (the
            codebook's dtype), counts and sums (float64).
        """
        torch = self.torch
        n_samples, n_features = X.shape
        n_codes = codebook.shape[0]
        labels = torch.empty(n_samples, dtype=torch.int64, device=self.device)
        sq_distances = torch.empty(n_samples, dtype=codebook.dtype, device=self.device)
        fused = (
            self.fused is not None
            and codebook.dtype == torch.float32
            and n_features <= self.fused.MAX_FEATURES
        )
        if fused:
            for rows in slices(n_samples, _FUSED_CHUNK_ROWS):
                X_chunk = self.rows(X, rows).to(codebook.dtype)
                self.fused.nearest_codes_fused(
                    X_chunk, codebook, sq_distances[rows], labels[rows]
                )
                if x_sq_norms is None:
                    sq_distances[rows] += torch.einsum("ij,ij->i", X_chunk, X_chunk)
        else:
            self._nearest_blocked(
                X, codebook, chunk_size, sq_distances, labels, x_sq_norms
            )
        if x_sq_norms is not None:
            sq_distances += x_sq_norms
        # Rounding in the expanded form can dip just below zero.
        sq_distances.clamp_(min=0)
        counts, sums = self.code_sums(X, labels, sample_weight, n_codes)
        return Assignment(labels, sq_distances, counts, sums)

    def _nearest_blocked(
        self, X, codebook, chunk_size, sq_distances, labels, x_sq_norms
    ):
        """``min_k ||c_k||^2 - 2 x.c_k`` per row through a reused distance block."""
        torch = self.torch
        n_samples = X.shape[0]
        n_codes = codebook.shape[0]
        if chunk_size is None:
            chunk_size = self.chunk_rows(n_codes, codebook.element_size())
        chunk_size = min(chunk_size, n_samples)
        code_sq_norms = torch.einsum("ij,ij->i", codebook, codebook)
        block = torch.empty(
            (chunk_size, n_codes), dtype=codebook.dtype, device=self.device
        )
        for rows in slices(n_samples, chunk_size):
            X_chunk = self.rows(X, rows).to(codebook.dtype)
            products = block[: X_chunk.shape[0]]
            _partial_sq_distances(X_chunk, codebook, code_sq_norms, out=products)
            torch.min(products, dim=1, out=(sq_distances[rows], labels[rows]))
            if x_sq_norms is None:
                sq_distances[rows] += torch.einsum("ij,ij->i", X_chunk, X_chunk)

    def code_sums(self, X, labels, sample_weight, n_codes: int):
        """Weighted count and float64 sum of the rows assigned to each code.

        The sums run over chunks whose float64 copy stays within the distance
        block's budget. Host data are copied to the device a second time here,
        after the distance pass.
        """
        torch = self.torch
        weights = None if sample_weight is None else self.float64(sample_weight)
        counts = torch.bincount(labels, weights=weights, minlength=n_codes)
        n_features = X.shape[1]
        sums = torch.zeros(
            (n_codes, n_features), dtype=torch.float64, device=self.device
        )
        for rows in slices(X.shape[0], self.chunk_rows(n_features, 8)):
            X_chunk = self.float64(self.rows(X, rows))
            if weights is not None:
                # Out of place: X_chunk may be a view of the caller's data.
                X_chunk = X_chunk * weights[rows, None]
            sums.index_add_(0, labels[rows], X_chunk)
        return counts.to(torch.float64), sums

    def distances(self, X, codebook):
        """Euclidean distances from every row of ``X`` to every code, on the device."""
        torch = self.torch
        code_sq_norms = torch.einsum("ij,ij->i", codebook, codebook)
        chunk = self.chunk_rows(codebook.shape[0], codebook.element_size())
        out = torch.empty(
            (X.shape[0], codebook.shape[0]), dtype=codebook.dtype, device=self.device
        )
        for rows in slices(X.shape[0], chunk):
            X_chunk = self.rows(X, rows).to(codebook.dtype)
            block = _partial_sq_distances(X_chunk, codebook, code_sq_norms)
            block += torch.einsum("ij,ij->i", X_chunk, X_chunk)[:, None]
            out[rows] = block.clamp_(min=0).sqrt_()
        return out


def _partial_sq_distances(X_chunk, codebook, code_sq_norms, out=None):
    """``||c||^2 - 2 x.c`` for a chunk of rows in one ``addmm``: the squared distance less ``||x||^2``."""
    torch = sys.modules["torch"]
    return torch.addmm(code_sq_norms, X_chunk, codebook.T, alpha=-2, out=out)


_NUMPY = NumpyBackend()


@lru_cache(maxsize=8)
def _torch_backend(device: str) -> TorchBackend:
    return TorchBackend(device)


def get_backend(*arrays):
    """The backend of the first torch tensor among ``arrays`` (on its device), else numpy.

    Examples
    --------
    >>> import numpy as np
    >>> get_backend(np.zeros(3)).__name__
    'numpy'
    """
    for a in arrays:
        if is_tensor(a):
            return _torch_backend(str(a.device))
    return _NUMPY


def resolve_backend(backend: str, device, X) -> NumpyBackend | TorchBackend:
    """The backend an estimator's ``backend`` and ``device`` parameters select for input ``X``.

    ``"auto"`` picks torch when ``X`` is a torch tensor or a ``device`` is named,
    numpy otherwise. The torch device is ``device`` when given, else the
    tensor's own device, else ``"cuda"`` when available and ``"cpu"`` otherwise.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch"}
    device : str, torch.device or None
    X : array-like or torch.Tensor

    Returns
    -------
    NumpyBackend or TorchBackend

    Examples
    --------
    >>> import numpy as np
    >>> resolve_backend("auto", None, np.zeros((2, 2))).__name__
    'numpy'
    """
    if backend == "auto":
        backend = "torch" if is_tensor(X) or device is not None else "numpy"
    if backend == "numpy":
        if device is not None and str(device) != "cpu":
            raise ValueError(
                f"device={device!r} needs backend='torch' (or 'auto'); the numpy "
                "backend runs on the CPU."
            )
        return _NUMPY
    torch = import_torch()
    if device is None:
        if is_tensor(X):
            device = X.device
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a torch device: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was asked for, but torch sees no CUDA device."
        )
    return _torch_backend(str(device))


def host_rows(X, index) -> np.ndarray:
    """Rows of numpy data or of a tensor, as a float64 numpy array on the host.

    Examples
    --------
    >>> import numpy as np
    >>> host_rows(np.arange(6, dtype=np.float32).reshape(3, 2), np.array([2, 0]))
    array([[4., 5.],
           [0., 1.]])
    """
    if is_tensor(X):
        if isinstance(index, np.ndarray):
            index = sys.modules["torch"].as_tensor(index, device=X.device)
        return to_host(X[index]).astype(np.float64)
    return np.asarray(X[index], dtype=np.float64)


def to_host(a):
    """A tensor as a numpy array on the host; anything else is returned as it is.

    Half precision becomes float32, and sparse tensors become scipy CSR matrices.

    Examples
    --------
    >>> import numpy as np
    >>> to_host(np.ones(2))  # not a tensor: returned as it is
    array([1., 1.])
    """
    if not is_tensor(a):
        return a
    a = a.detach().cpu()
    if a.layout != sys.modules["torch"].strided:
        coo = a.to_sparse_coo().coalesce()
        rows, cols = coo.indices().numpy()
        return sp.csr_matrix(
            (to_host(coo.values()), (rows, cols)), shape=tuple(a.shape)
        )
    if a.is_floating_point() and a.element_size() < 4:
        a = a.float()
    return a.numpy()


def numpy_dtype(X) -> np.dtype:
    """The numpy dtype that results on ``X`` are given in (half precision computes in float32).

    Examples
    --------
    >>> import numpy as np
    >>> numpy_dtype(np.zeros((2, 2), dtype=np.float32))
    dtype('float32')
    """
    if is_tensor(X):
        return np.dtype(
            np.float64 if X.dtype == sys.modules["torch"].float64 else np.float32
        )
    return X.dtype


def check_tensor(X, *, input_name: str = "X"):
    """Validate a torch tensor as sklearn's ``check_array`` validates an array.

    Dense, two-dimensional, real and finite, with at least one row and column.
    Integer and boolean tensors become torch's default float dtype; float16 and
    bfloat16 are kept (they are computed in float32). The tensor stays on its
    device and is detached from any autograd graph.

    Examples
    --------
    >>> import torch  # doctest: +SKIP
    >>> check_tensor(torch.ones(3, 2, dtype=torch.int64)).dtype  # doctest: +SKIP
    torch.float32
    """
    torch = import_torch()
    if X.layout != torch.strided:
        raise TypeError(
            f"A sparse tensor was passed for {input_name}, but dense data is "
            "required. Use '.to_dense()' to convert it."
        )
    if X.ndim != 2:
        raise ValueError(
            f"Expected a 2D tensor for {input_name}, got a {X.ndim}D tensor of "
            f"shape {tuple(X.shape)} instead. Reshape it with X.reshape(-1, 1) if "
            "it has a single feature or X.reshape(1, -1) if it is a single sample."
        )
    if X.is_complex():
        raise ValueError(f"Complex data not supported for {input_name}.")
    if not X.is_floating_point():
        X = X.to(torch.get_default_dtype())
    n_samples, n_features = X.shape
    if n_samples < 1 or n_features < 1:
        raise ValueError(
            f"Found a tensor with {n_samples} sample(s) and {n_features} feature(s) "
            f"(shape={tuple(X.shape)}) while a minimum of 1 of each is required."
        )
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"Input {input_name} contains NaN or infinity.")
    return X.detach()
