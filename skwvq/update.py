"""The codebook update: the minimiser of J for fixed assignments and transport plan."""

from __future__ import annotations

from .backends import backend_of


def update_codebook(codebook, mass, weighted_sums, targets, alignment_weight):
    """Minimiser of ``J = (1 - g) E + g W^2`` for fixed assignments and transport plan.

    ``c_k = [(1-g) n_k/N m_k + (g/K) t_k] / [(1-g) n_k/N + g/K]``, written with
    ``weighted_sums = n_k m_k / N`` so that no division by an empty count occurs.
    A code with ``n_k = 0`` moves to its target ``t_k`` when ``g > 0`` and stays
    where it is when ``g = 0`` (Lloyd's rule has nothing to say about it).

    Parameters
    ----------
    codebook : ndarray of shape (n_codes, n_features)
    mass : ndarray of shape (n_codes,)
        ``n_k / N``: fraction of the sample weight assigned to each code.
    weighted_sums : ndarray of shape (n_codes, n_features)
        ``n_k m_k / N``: weighted sum of each code's samples over the total weight.
    targets : ndarray of shape (n_codes, n_features) or None
        Transport targets; ignored (may be None) when ``alignment_weight == 0``.
    alignment_weight : float in [0, 1]

    Returns
    -------
    ndarray of shape (n_codes, n_features), in the dtype of ``codebook``

    Examples
    --------
    >>> import numpy as np
    >>> codebook = np.array([[0.0], [5.0]])
    >>> mass, sums = np.array([1.0, 0.0]), np.array([[2.0], [0.0]])
    >>> update_codebook(codebook, mass, sums, None, 0.0)  # Lloyd; the empty code stays
    array([[2.],
           [5.]])
    >>> update_codebook(codebook, mass, sums, np.array([[4.0], [9.0]]), 0.5)
    array([[2.66666667],
           [9.        ]])
    """
    nx = backend_of(codebook)
    n_codes = codebook.shape[0]
    g = float(alignment_weight)
    numerator = (1.0 - g) * weighted_sums
    denominator = (1.0 - g) * mass
    if g > 0:
        numerator = numerator + (g / n_codes) * targets
        denominator = denominator + g / n_codes
    moved = (denominator > 0)[:, None]
    safe_denominator = nx.where(moved, denominator[:, None], 1.0)
    updated = nx.where(moved, numerator / safe_denominator, nx.float64(codebook))
    return nx.cast_like(updated, codebook)
