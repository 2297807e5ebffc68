"""The layer's forward contract on shapes (vector-quantize-pytorch's): features as rows and back, and masks or lengths as row weights."""

from __future__ import annotations

import torch


def flatten(x, dim: int, accept_image_fmap: bool):
    """``(rows, dim)`` features, and functions that restore ``x``'s layout to rows of codes and of indices.

    Examples
    --------
    >>> import torch
    >>> flat, (restore, restore_indices) = flatten(torch.zeros(2, 5, 3), 3, False)
    >>> flat.shape, restore(flat).shape, restore_indices(torch.zeros(10)).shape
    (torch.Size([10, 3]), torch.Size([2, 5, 3]), torch.Size([2, 5]))
    """
    if accept_image_fmap:
        if x.dim() != 4 or x.shape[1] != dim:
            raise ValueError(
                f"expected a (B, {dim}, H, W) feature map, got {tuple(x.shape)}."
            )
        B, C, H, W = x.shape
        flat = x.permute(0, 2, 3, 1).reshape(-1, C)
        return flat, (
            lambda v: v.reshape(B, H, W, C).permute(0, 3, 1, 2),
            lambda i: i.reshape(B, H, W),
        )
    if x.dim() not in (2, 3) or x.shape[-1] != dim:
        raise ValueError(
            f"expected (B, {dim}) or (B, N, {dim}) features, got "
            f"{tuple(x.shape)}; pass accept_image_fmap=True for (B, C, H, W) maps."
        )
    shape = x.shape
    return x.reshape(-1, dim), (
        lambda v: v.reshape(shape),
        lambda i: i.reshape(shape[:-1]),
    )


def row_weights(x, mask, lens, accept_image_fmap: bool):
    """Weight 1 for positions in use, 0 for padding (from ``mask`` or ``lens``); None for no padding.

    Examples
    --------
    >>> import torch
    >>> row_weights(torch.zeros(2, 3, 4), None, torch.tensor([3, 1]), False)
    tensor([1., 1., 1., 1., 0., 0.], dtype=torch.float64)
    """
    if lens is not None:
        if x.dim() != 3:
            raise ValueError("lens needs (B, N, dim) features.")
        positions = torch.arange(x.shape[1], device=x.device)
        mask = positions[None, :] < torch.as_tensor(lens, device=x.device)[:, None]
    if mask is None:
        return None
    expected = x.shape[:-1] if not accept_image_fmap else (x.shape[0], *x.shape[2:])
    if tuple(mask.shape) != tuple(expected):
        raise ValueError(
            f"mask has shape {tuple(mask.shape)}, expected {tuple(expected)}."
        )
    return mask.reshape(-1).to(torch.float64)
