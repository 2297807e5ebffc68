"""Tensor input and output of the estimator: validation as ``check_array``, the dtype of results, results shaped as the input came."""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp

from .backends import import_torch, is_tensor, to_host


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


def like_input(result, X_input):
    """``result`` as the caller gave X: a tensor on X's device, else a numpy array.

    Sparse results become sparse CSR tensors for tensor input.

    Examples
    --------
    >>> import numpy as np
    >>> like_input(np.arange(3), [[0.0]])  # not a tensor: numpy
    array([0, 1, 2])
    """
    if not is_tensor(X_input):
        return to_host(result)
    torch = import_torch()
    if is_tensor(result):
        return result.to(X_input.device)
    if sp.issparse(result):
        result = result.tocoo()
        indices = torch.as_tensor(np.vstack([result.row, result.col]))
        values = torch.as_tensor(result.data)
        return torch.sparse_coo_tensor(
            indices, values, result.shape, device=X_input.device
        ).to_sparse_csr()
    return torch.as_tensor(result, device=X_input.device)
