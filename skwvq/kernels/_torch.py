"""The torch backend's nearest-code assignment: chunked ``addmm`` + ``min``, ``bincount`` and ``index_add_``.

Every function takes a ``rows(X, index)`` accessor that brings rows of ``X`` to
the compute device, so that data resident on the device and data left on the
host (too large for it) take the same path, chunk by chunk.
"""

from __future__ import annotations

import torch

from ._common import Assignment, slices

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


def chunk_rows(device: torch.device, n_codes: int, itemsize: int) -> int:
    """Rows per chunk so that a chunk's distance block stays within the device budget.

    Examples
    --------
    >>> chunk_rows(torch.device("cpu"), 1024, 4)
    2048
    """
    budget = _DEVICE_BLOCK_BYTES.get(device.type, _DEVICE_BLOCK_BYTES["cuda"])
    if device.type == "cuda":
        memory = torch.cuda.get_device_properties(device).total_memory
        budget = min(budget, memory // _DEVICE_MEMORY_SHARE)
    return max(256, budget // max(1, n_codes * itemsize))


def sq_norms(X, rows) -> torch.Tensor:
    """Squared norm of every row of ``X``, on the device, computed chunk by chunk.

    Examples
    --------
    >>> X = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    >>> sq_norms(X, lambda X, index: X[index])
    tensor([25.,  1.])
    """
    if isinstance(X, torch.Tensor):
        return torch.einsum("ij,ij->i", X, X)
    chunks = [rows(X, span) for span in slices(X.shape[0], 1 << 16)]
    return torch.cat([torch.einsum("ij,ij->i", chunk, chunk) for chunk in chunks])


def _partial_sq_distances(X_chunk, codebook, code_sq_norms, out=None):
    """``||c||^2 - 2 x.c`` for a chunk of rows in one ``addmm``: the squared distance less ``||x||^2``."""
    return torch.addmm(code_sq_norms, X_chunk, codebook.T, alpha=-2, out=out)


def nearest_codes(X, codebook, rows, *, x_sq_norms=None, chunk_size=None, fused=None):
    """Labels and squared distances of the nearest codes, chunk by chunk on the device.

    With ``fused`` (the Triton module, on CUDA), float32 data of at most its
    ``MAX_FEATURES`` features take one fused kernel per million rows, which keeps
    each row's running minimum in registers. Otherwise each chunk of rows is two
    kernels: an ``addmm`` writing ``||c||^2 - 2 x.c`` into one reused block, and a
    ``min`` over codes writing straight into the outputs (few launches per chunk
    keep the GPU, not Python, the bottleneck).

    Returns
    -------
    labels : tensor of shape (n_samples,), int64
    sq_distances : tensor of shape (n_samples,), in the codebook's dtype

    Examples
    --------
    >>> X, codebook = torch.tensor([[0.0], [4.0]]), torch.tensor([[1.0], [5.0]])
    >>> nearest_codes(X, codebook, lambda X, index: X[index])
    (tensor([0, 1]), tensor([1., 1.]))
    """
    n_samples, n_features = X.shape
    device = codebook.device
    labels = torch.empty(n_samples, dtype=torch.int64, device=device)
    sq_distances = torch.empty(n_samples, dtype=codebook.dtype, device=device)
    use_fused = (
        fused is not None
        and codebook.dtype == torch.float32
        and n_features <= fused.MAX_FEATURES
    )
    if use_fused:
        for span in slices(n_samples, _FUSED_CHUNK_ROWS):
            X_chunk = rows(X, span).to(codebook.dtype)
            fused.nearest_codes_fused(
                X_chunk, codebook, sq_distances[span], labels[span]
            )
            if x_sq_norms is None:
                sq_distances[span] += torch.einsum("ij,ij->i", X_chunk, X_chunk)
    else:
        if chunk_size is None:
            chunk_size = chunk_rows(device, codebook.shape[0], codebook.element_size())
        chunk_size = max(1, min(chunk_size, n_samples))  # no rows: no chunk
        code_sq_norms = torch.einsum("ij,ij->i", codebook, codebook)
        block = torch.empty(
            (chunk_size, codebook.shape[0]), dtype=codebook.dtype, device=device
        )
        for span in slices(n_samples, chunk_size):
            X_chunk = rows(X, span).to(codebook.dtype)
            products = block[: X_chunk.shape[0]]
            _partial_sq_distances(X_chunk, codebook, code_sq_norms, out=products)
            torch.min(products, dim=1, out=(sq_distances[span], labels[span]))
            if x_sq_norms is None:
                sq_distances[span] += torch.einsum("ij,ij->i", X_chunk, X_chunk)
    if x_sq_norms is not None:
        sq_distances += x_sq_norms
    # Rounding in the expanded form can dip just below zero.
    sq_distances.clamp_(min=0)
    return labels, sq_distances


def code_sums(X, labels, sample_weight, n_codes: int, rows):
    """Weighted count and float64 sum of the rows assigned to each code.

    The sums run over chunks whose float64 copy stays within the distance
    block's budget; data on the host are copied to the device a second time
    here, after the distance pass.

    Examples
    --------
    >>> X = torch.tensor([[1.0], [3.0], [5.0]])
    >>> counts, sums = code_sums(X, torch.tensor([0, 0, 1]), None, 2,
    ...                          lambda X, index: X[index])
    >>> counts, sums.ravel()
    (tensor([2., 1.], dtype=torch.float64), tensor([4., 5.], dtype=torch.float64))
    """
    device = labels.device
    weights = None
    if sample_weight is not None:
        weights = sample_weight.to(device=device, dtype=torch.float64)
    counts = torch.bincount(labels, weights=weights, minlength=n_codes)
    n_features = X.shape[1]
    sums = torch.zeros((n_codes, n_features), dtype=torch.float64, device=device)
    for span in slices(X.shape[0], chunk_rows(device, n_features, 8)):
        X_chunk = rows(X, span).to(torch.float64)
        if weights is not None:
            # Out of place: X_chunk may be a view of the caller's data.
            X_chunk = X_chunk * weights[span, None]
        sums.index_add_(0, labels[span], X_chunk)
    return counts.to(torch.float64), sums


def assign(
    X,
    codebook,
    rows,
    *,
    sample_weight=None,
    x_sq_norms=None,
    chunk_size=None,
    fused=None,
):
    """Nearest codes and per-code statistics; the torch twin of ``skwvq.kernels.assign``.

    Returns
    -------
    skwvq.kernels.Assignment
        With tensors on the codebook's device: labels (int64), squared distances
        (the codebook's dtype), counts and sums (float64).
    """
    labels, sq_distances = nearest_codes(
        X, codebook, rows, x_sq_norms=x_sq_norms, chunk_size=chunk_size, fused=fused
    )
    counts, sums = code_sums(X, labels, sample_weight, codebook.shape[0], rows)
    return Assignment(labels, sq_distances, counts, sums)


def distances(X, codebook, rows):
    """Euclidean distances from every row of ``X`` to every code, on the device.

    Examples
    --------
    >>> distances(torch.tensor([[3.0, 4.0]]), torch.zeros(2, 2), lambda X, i: X[i])
    tensor([[5., 5.]])
    """
    code_sq_norms = torch.einsum("ij,ij->i", codebook, codebook)
    chunk = chunk_rows(codebook.device, codebook.shape[0], codebook.element_size())
    out = torch.empty(
        (X.shape[0], codebook.shape[0]), dtype=codebook.dtype, device=codebook.device
    )
    for span in slices(X.shape[0], chunk):
        X_chunk = rows(X, span).to(codebook.dtype)
        block = _partial_sq_distances(X_chunk, codebook, code_sq_norms)
        block += torch.einsum("ij,ij->i", X_chunk, X_chunk)[:, None]
        out[span] = block.clamp_(min=0).sqrt_()
    return out
