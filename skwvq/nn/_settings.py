"""The layer's constructor arguments, checked before anything is built."""

from __future__ import annotations

import numpy as np
import torch

from ..alignment import ALIGNMENTS
from ..backends import to_host

LAYER_ALIGNMENTS = tuple(name for name, m in ALIGNMENTS.items() if m.for_layers)
UPDATES = ("statistics", "gradient")


def check_settings(*, alignment, update, alignment_weight, decay) -> None:
    """Raise a ValueError naming the first argument the layer cannot take.

    Examples
    --------
    >>> check_settings(alignment="sliced", update="statistics", alignment_weight=0.02, decay=None)
    """
    if alignment not in LAYER_ALIGNMENTS:
        raise ValueError(
            f"alignment must be one of {LAYER_ALIGNMENTS}, got {alignment!r}."
        )
    if update not in UPDATES:
        raise ValueError(f"update must be one of {UPDATES}, got {update!r}.")
    if update == "gradient" and alignment != "gaussian":
        raise ValueError(
            "update='gradient' (the paper's variant) trains the codebook on the "
            "Gaussian W2 loss; use alignment='gaussian'."
        )
    if not 0.0 <= alignment_weight <= 1.0:
        raise ValueError(f"alignment_weight must be in [0, 1], got {alignment_weight}.")
    if decay is not None and not 0.0 <= decay < 1.0:
        raise ValueError(f"decay must be in [0, 1) or None, got {decay}.")


def check_init(init, codebook_size: int, dim: int):
    """The codebook that an array or tensor ``init`` gives (a float32 copy); None for a string or callable.

    Examples
    --------
    >>> check_init("auto", 4, 2) is None
    True
    """
    if isinstance(init, str) or callable(init):
        return None
    codebook = torch.as_tensor(np.asarray(to_host(init)), dtype=torch.float32)
    if codebook.shape != (codebook_size, dim):
        raise ValueError(
            f"init has shape {tuple(codebook.shape)}, expected ({codebook_size}, {dim})."
        )
    if not torch.isfinite(codebook).all():
        raise ValueError("init contains NaN or infinity.")
    return codebook.clone()
