"""The layer's loss: the commitment term, and the paper's gradient variant's codebook and Gaussian W2 terms."""

from __future__ import annotations

import torch

from ..alignment import gaussian_w2, sqrtm_psd, weighted_moments


def gaussian_w2_loss(mean, cov, codebook):
    """Squared 2-Wasserstein distance between ``N(mean, cov)`` and the codebook's Gaussian fit, differentiable in the codebook.

    ``||m - m_C||^2 + tr(S) + tr(S_C) - 2 tr((S^{1/2} S_C S^{1/2})^{1/2})``; the
    last trace is the sum of the square roots of the eigenvalues, whose gradient
    stays finite where eigenvalues repeat (that of a matrix square root would
    not). ``mean`` and ``cov`` are treated as constants.

    Parameters
    ----------
    mean : tensor of shape (dim,)
    cov : tensor of shape (dim, dim)
    codebook : tensor of shape (codebook_size, dim)

    Returns
    -------
    tensor of shape ()

    Examples
    --------
    >>> import torch
    >>> codebook = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
    >>> float(gaussian_w2_loss(torch.tensor([3.0, 4.0]), 0.5 * torch.eye(2), codebook))
    25.0
    """
    codebook = codebook.to(torch.float64)
    mean = mean.detach().to(codebook)
    cov = cov.detach().to(codebook)
    code_mean, code_cov = weighted_moments(codebook)
    root = sqrtm_psd(cov)
    eigenvalues = torch.linalg.eigvalsh(root @ code_cov @ root)
    cross = torch.sqrt(torch.clamp(eigenvalues, min=1e-12)).sum()
    return gaussian_w2(mean, cov, code_mean, code_cov, cross_trace=cross)


def masked_mean(squares, weights):
    """Mean of squared gaps over the positions in use (``weights`` None: all) and features."""
    if weights is None:
        return squares.mean() if squares.numel() else squares.sum()
    in_use = weights.to(squares.dtype)[:, None]
    return (squares * in_use).sum() / (in_use.sum().clamp(min=1.0) * squares.shape[1])


def layer_loss(
    flat,
    quantized_rows,
    weights,
    *,
    commitment_weight: float,
    codebook=None,
    moments=None,
    alignment_weight: float = 0.0,
):
    """``commitment_weight ||z - sg(q)||^2``, plus with ``codebook`` (the gradient variant) ``||sg(z) - q||^2`` and ``alignment_weight`` times the W2 to ``moments``.

    Parameters
    ----------
    flat : tensor of shape (n_rows, dim)
        The features.
    quantized_rows : tensor of shape (n_rows, dim)
        Their codes (with the codebook's gradient in the gradient variant).
    weights : tensor of shape (n_rows,) or None
        1 for positions in use, 0 for padding; None for all in use.
    commitment_weight : float
    codebook : tensor of shape (codebook_size, dim), default=None
        The learnable codebook of the gradient variant; None: no codebook terms.
    moments : skwvq._moments.Moments, default=None
        The running feature moments the codebook's Gaussian fit is pulled to.
    alignment_weight : float, default=0.0

    Examples
    --------
    >>> import torch
    >>> z, q = torch.ones(4, 2), torch.zeros(4, 2)
    >>> float(layer_loss(z, q, None, commitment_weight=0.25))
    0.25
    """
    loss = commitment_weight * masked_mean(
        (flat - quantized_rows.detach().to(flat.dtype)) ** 2, weights
    )
    if codebook is None:
        return loss
    loss = loss + masked_mean((flat.detach() - quantized_rows) ** 2, weights)
    if moments is not None and moments.weight > 0:
        w2 = gaussian_w2_loss(moments.mean, moments.cov, codebook)
        loss = loss + alignment_weight * w2.to(loss.dtype)
    return loss
