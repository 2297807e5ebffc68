"""Torch tensor input: validation as ``check_array``, rows on the torch backend's device, results back as tensors on the input's device."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..backends import import_torch, is_tensor, to_host
from ._base import InMemoryRows
from ._dense import DenseRows, host_rows_of


def check_tensor(X, *, input_name: str = "X"):
    """Validate a torch tensor as sklearn's ``check_array`` validates an array.

    Dense, two-dimensional, real and finite, with at least one row and column.
    Integer and boolean tensors become torch's default float dtype; float16 and
    bfloat16 are kept (they are computed in float32). The tensor stays on its
    device and is detached from any autograd graph.

    Examples
    --------
    >>> import torch
    >>> check_tensor(torch.ones(3, 2, dtype=torch.int64)).dtype
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


class TensorOutput:
    """Results as tensors on ``device`` (sparse results as sparse CSR tensors).

    Examples
    --------
    >>> import numpy as np
    >>> TensorOutput("cpu")(np.arange(3))
    tensor([0, 1, 2])
    """

    def __init__(self, device):
        self.device = device

    def __call__(self, result):
        torch = import_torch()
        if is_tensor(result):
            return result.to(self.device)
        if sp.issparse(result):
            result = result.tocoo()
            indices = torch.as_tensor(np.vstack([result.row, result.col]))
            values = torch.as_tensor(result.data)
            return torch.sparse_coo_tensor(
                indices, values, result.shape, device=self.device
            ).to_sparse_csr()
        return torch.as_tensor(result, device=self.device)


class TensorRows(InMemoryRows):
    """A validated tensor (``check_tensor``) on the torch backend's device; results back on X's device.

    float16 and bfloat16 rows are computed in float32, so results come in
    float32; the tensor moves to the backend's device if it is elsewhere.

    Parameters
    ----------
    X : tensor of shape (n_samples, n_features)
    nx : TorchBackend

    Examples
    --------
    >>> import torch
    >>> from skwvq.backends import torch_backend
    >>> X = torch.arange(6.0).reshape(3, 2)
    >>> rows = TensorRows(X, torch_backend("cpu"))
    >>> rows.host_rows(torch.tensor([2, 0]).numpy())
    array([[4., 5.],
           [0., 1.]])
    """

    def __init__(self, X, nx, wrap=None):
        # Half precision is computed, and returned, in float32.
        dtype = np.float64 if X.dtype == import_torch().float64 else np.float32
        wrap = TensorOutput(X.device) if wrap is None else wrap
        super().__init__(nx.asarray(X), nx, dtype=dtype, wrap=wrap)

    def host_rows(self, index):
        index = import_torch().as_tensor(index, device=self.data.device)
        return to_host(self.data[index]).astype(np.float64)

    def on_host(self) -> DenseRows:
        return host_rows_of(to_host(self.data), self.sample_weight)
