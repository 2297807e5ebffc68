"""Array backends that only dispatch: POT's numpy and torch backends with the kernels of each, and the host-array operations that differ between dense and CSR rows."""

from __future__ import annotations

import sys
import warnings
from contextlib import nullcontext
from functools import lru_cache

import numpy as np
import ot
import ot.backend
import scipy.sparse as sp
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils.extmath import row_norms

from .kernels import (
    Assignment,
    DenseSeedingRows,
    SparseSeedingRows,
    assign,
    assign_sparse,
    chunk_rows,
    code_sums,
    code_sums_sparse,
    pairwise_distances_chunked,
    single_threaded_blas,
)

BACKENDS = ("auto", "numpy", "torch")
# Rows per chunk of the passes that stream X through host memory (moments,
# copies to a device): a few MB per chunk whatever N is.
CHUNK_ROWS = 65536
# The numpy backend's moment passes take about this many bytes of float64 rows
# at a time, which the allocator reuses from chunk to chunk. With CHUNK_ROWS
# (33 MB at d = 64) each chunk's temporaries were fresh pages from the kernel:
# the first variance pass of a fit over 10^5 x 64 rows took 0.1-0.3 s, 0.02 s
# in chunks of 2 MB.
_HOST_MOMENT_BYTES = 2 << 20

TORCH_MISSING = (
    "backend='torch' needs PyTorch, which is not installed. Install it with "
    "`pip install 'skwvq[torch]'` (or `pip install torch`)."
)


def import_torch():
    """Import torch, or raise an ImportError that says how to install it.

    Examples
    --------
    >>> torch = import_torch()
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


class NumpyBackend(ot.backend.NumpyBackend):
    """numpy arrays and CSR matrices on the CPU: threaded BLAS distances and numba per-code sums.

    Extends POT's numpy backend with what the solver needs beyond POT's: the
    kernels of ``skwvq.kernels`` (dense or sparse, as the rows are) and casts.

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
        """``a`` as a numpy array (tensors are copied to the host), optionally cast; sparse stays sparse."""
        if sp.issparse(a):
            return a if dtype is None else a.astype(dtype, copy=False)
        return np.asarray(to_host(a), dtype=dtype)

    def float64(self, a):
        """``a`` cast to float64 (no copy when it already is)."""
        return self.asarray(a, dtype=np.float64)

    def cast_like(self, a, like):
        """``a`` in the dtype of ``like`` (no copy when it already is)."""
        return a.astype(like.dtype, copy=False)

    def rows(self, X, index):
        """Rows of ``X`` (a slice, an index array or a list of slices) as an array; sparse rows stay CSR."""
        if sp.issparse(X):
            if isinstance(index, list):
                return sp.vstack([X[span] for span in index], format="csr")
            return X[index]
        if isinstance(index, list):
            return np.concatenate([np.asarray(X[span]) for span in index])
        return np.asarray(X[index])

    def sq_norms(self, X):
        """Squared norm of every row of ``X``."""
        return row_norms(X, squared=True)

    def smallest(self, a, k: int):
        """Column indices of the ``k`` smallest entries of each row of ``a``, in no order."""
        k = min(k, a.shape[1])
        return np.argpartition(a, k - 1, axis=1)[:, :k]

    def chunk_rows(self, n_codes: int, itemsize: int) -> int:
        """Rows per chunk so that a chunk's distance block stays cache-sized."""
        return chunk_rows(n_codes, itemsize)

    def assign(
        self, X, codebook, *, sample_weight=None, x_sq_norms=None, chunk_size=None
    ):
        """Nearest codes and per-code statistics; see ``skwvq.kernels.assign`` (``assign_sparse`` for CSR rows)."""
        if sp.issparse(X):
            return assign_sparse(
                X, codebook, sample_weight=sample_weight, x_sq_norms=x_sq_norms
            )
        weights = dict(sample_weight=sample_weight, x_sq_norms=x_sq_norms)
        return assign(X, codebook, **weights, chunk_size=chunk_size)

    def code_sums(self, X, labels, sample_weight, n_codes: int):
        """Weighted count and float64 sum of the rows of ``X`` assigned to each code."""
        if sp.issparse(X):
            return code_sums_sparse(X, labels, sample_weight, n_codes)
        return code_sums(X, labels, sample_weight, n_codes)

    def distances(self, X, codebook):
        """Euclidean distances from every row of ``X`` to every code."""
        return pairwise_distances_chunked(X, codebook, self.rows)

    def seeding_rows(self, X, n_trials: int):
        """The k-means++ kernels on the rows of ``X`` (``skwvq.kernels._seeding``), dense or CSR."""
        if sp.issparse(X):
            return SparseSeedingRows(X, n_trials)
        return DenseSeedingRows(X)

    def solver_threads(self):
        """The context a fit runs in: BLAS at one thread (``skwvq.kernels.single_threaded_blas``)."""
        return single_threaded_blas()

    def moment_rows(self, n_features: int) -> int:
        """Rows per chunk of the moment passes: about 2 MB of float64 temporaries."""
        return max(256, _HOST_MOMENT_BYTES // (8 * max(1, n_features)))


class TorchBackend(ot.backend.TorchBackend):
    """torch tensors on one device, the kernels of ``skwvq.kernels._torch``.

    Extends POT's torch backend with the assignment kernel; its ``rows`` bring
    host rows (numpy data too large for the device) to the device in chunks.

    On a CUDA device with Triton (shipped with PyTorch's CUDA builds), float32
    data of at most 64 features are assigned by the fused kernel of
    ``skwvq.kernels._triton``, which never writes the distance block.

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
    >>> nx = TorchBackend("cpu")
    >>> result = nx.assign(nx.asarray(np.array([[0.0], [4.0]])),
    ...                    nx.asarray(np.array([[1.0], [5.0]])))
    >>> result.labels
    tensor([0, 1])
    """

    __name__ = "torch"

    def __init__(self, device="cpu", fused=None):
        torch = import_torch()
        super().__init__()
        from .kernels import _torch

        self.torch = torch
        self.kernels = _torch
        self.device = torch.device(device)
        self.fused = None
        if self.device.type == "cuda" and fused is not False:
            try:
                from .kernels import _triton
            except ImportError:
                if fused:
                    raise
            else:
                self.fused = _triton

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

    def sq_norms(self, X):
        """Squared norm of every row of ``X``, on the device (host data chunk by chunk)."""
        return self.kernels.sq_norms(X, self.rows)

    def chunk_rows(self, n_codes: int, itemsize: int) -> int:
        """Rows per chunk so that a chunk's distance block stays within the device budget."""
        return self.kernels.chunk_rows(self.device, n_codes, itemsize)

    def assign(
        self, X, codebook, *, sample_weight=None, x_sq_norms=None, chunk_size=None
    ):
        """Nearest codes and per-code statistics; see ``skwvq.kernels._torch.assign``.

        On the CPU the numpy backend's kernels do the work on views of the
        tensors: torch's CPU ``min`` over a dimension (values and indices) runs
        at about 1 G elements/s, half the rate of the whole numpy assignment
        (measured with torch 2.13 on 2 AVX2 cores: 1,024 rows x 1,024 codes,
        d = 8, 1.55 ms against 0.92 ms; 6,272 x 1,024, d = 16, 10.6 against
        5.4 ms).
        """
        if self.device.type == "cpu":
            return self._assign_on_host(
                X, codebook, sample_weight, x_sq_norms, chunk_size
            )
        if sample_weight is not None:
            sample_weight = self.float64(sample_weight)
        return self.kernels.assign(
            X,
            codebook,
            self.rows,
            sample_weight=sample_weight,
            x_sq_norms=x_sq_norms,
            chunk_size=chunk_size,
            fused=self.fused,
        )

    def _assign_on_host(self, X, codebook, sample_weight, x_sq_norms, chunk_size):
        """The numpy assignment on memory shared with CPU tensors; results as tensors."""
        codes = codebook.detach().numpy()

        def host(a, dtype=None):
            if is_tensor(a):
                return a.detach().numpy().astype(dtype, copy=False)
            return np.asarray(a, dtype=dtype)

        result = assign(
            host(X, codes.dtype),
            codes,
            sample_weight=None if sample_weight is None else host(sample_weight),
            x_sq_norms=None if x_sq_norms is None else host(x_sq_norms, codes.dtype),
            chunk_size=chunk_size,
        )
        return Assignment(
            *(self.torch.from_numpy(np.asarray(a)) for a in vars(result).values())
        )

    def code_sums(self, X, labels, sample_weight, n_codes: int):
        """Weighted count and float64 sum of the rows of ``X`` assigned to each code."""
        if sample_weight is not None:
            sample_weight = self.float64(sample_weight)
        return self.kernels.code_sums(X, labels, sample_weight, n_codes, self.rows)

    def distances(self, X, codebook):
        """Euclidean distances from every row of ``X`` to every code, on the device."""
        return self.kernels.distances(X, codebook, self.rows)

    def smallest(self, a, k: int):
        """Column indices of the ``k`` smallest entries of each row of ``a``, in no order."""
        k = min(k, a.shape[1])
        return self.torch.topk(a, k, dim=1, largest=False, sorted=False).indices

    def solver_threads(self):
        """The context a fit runs in: torch's own thread pool, as it is."""
        return nullcontext()

    def moment_rows(self, n_features: int) -> int:
        """Rows per chunk of the moment passes (few kernel launches on a device)."""
        return CHUNK_ROWS


_NUMPY = NumpyBackend()


@lru_cache(maxsize=8)
def torch_backend(device: str) -> TorchBackend:
    """The torch backend of ``device`` (one per device, as ``backend_of`` gives it)."""
    return TorchBackend(device)


def backend_of(*arrays):
    """The backend of the first torch tensor among ``arrays`` (on its device), else numpy.

    Unlike POT's ``get_backend``, arrays of different types may be mixed (a
    numpy weight vector beside a tensor) and no argument means numpy.

    Examples
    --------
    >>> import numpy as np
    >>> backend_of(np.zeros(3)).__name__
    'numpy'
    """
    for a in arrays:
        if is_tensor(a):
            return torch_backend(str(a.device))
    return _NUMPY


def dense(a) -> np.ndarray:
    """A sparse matrix as a dense array; anything else as it is.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> dense(sp.eye(2, format="csr"))
    array([[1., 0.],
           [0., 1.]])
    """
    return a.toarray() if sp.issparse(a) else a


def entries_per_row(X) -> float:
    """Entries that one distance to a row of ``X`` reads: its features, or its mean stored entries if sparse.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> entries_per_row(sp.eye(4, 1000, format="csr"))
    1.0
    """
    if sp.issparse(X):
        return max(1.0, X.nnz / max(1, X.shape[0]))
    return float(X.shape[1])


def sparse_nonzeros(a) -> int | None:
    """The stored entries of a sparse matrix; None for a dense array, which stores them all.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> sparse_nonzeros(sp.eye(3, format="csr")), sparse_nonzeros(np.eye(3))
    (3, None)
    """
    return a.nnz if sp.issparse(a) else None


def concatenate_rows(a, b):
    """The rows of ``a`` then those of ``b``: CSR when either is sparse, else on their backend.

    Examples
    --------
    >>> import numpy as np
    >>> import scipy.sparse as sp
    >>> concatenate_rows(np.zeros((1, 2)), sp.eye(1, 2, format="csr")).toarray()
    array([[0., 0.],
           [1., 0.]])
    """
    if sp.issparse(a) or sp.issparse(b):
        return sp.vstack([sp.csr_matrix(a), sp.csr_matrix(b)], format="csr")
    return backend_of(a, b).concatenate([a, b])


def pairwise_sq_distances(A, B) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``A`` (dense or CSR) and ``B``, on the host.

    POT's ``ot.dist`` for dense rows; scikit-learn's ``euclidean_distances``
    for CSR rows, which ``ot.dist`` cannot read.

    Examples
    --------
    >>> import numpy as np
    >>> pairwise_sq_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))
    array([[25.]])
    """
    if sp.issparse(A):
        return euclidean_distances(A, B, squared=True)
    return ot.dist(A, B)


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
