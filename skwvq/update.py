"""The codebook update: the minimiser of J for fixed assignments and transport plan."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import pairwise_distances_argmin

from .backends import backend_of, dense, entries_per_row, to_host
from .initialization import kmeans_plusplus_rows, seeding_sample_size


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
    # In place after the first product: with a wide codebook (sparse data of
    # 50,000 features) each K x d temporary is as large as the codebook itself.
    updated = (1.0 - g) * weighted_sums
    denominator = (1.0 - g) * mass
    if g > 0:
        updated += (g / n_codes) * targets
        denominator = denominator + g / n_codes
    stays = denominator <= 0
    updated /= nx.where(stays, 1.0, denominator)[:, None]
    if stays.any():
        updated[stays] = nx.float64(codebook[stays])
    return nx.cast_like(updated, codebook)


def stranded_codes(codebook, candidates, support) -> np.ndarray:
    """Which candidate codes own no row of the data support: not even the row nearest them.

    A code that its block left without rows may still stand among the data
    (a stream's batch missed its cell; its transport target brought it back);
    it is stranded when it is not the nearest code of the support row nearest
    to it, which checks each candidate against ``n_points + n_codes`` points
    instead of assigning the whole support.

    Parameters
    ----------
    codebook : array or tensor of shape (n_codes, n_features)
    candidates : ndarray of shape (n_codes,), bool
        Codes to check (on the host), e.g. those that a block left without rows.
    support : tuple of (ndarray or CSR matrix of shape (n_points, n_features), ndarray of shape (n_points,))
        Rows of the data and their masses (the alignment's ``support``).

    Returns
    -------
    ndarray of shape (n_codes,), bool

    Examples
    --------
    >>> import numpy as np
    >>> support = np.array([[0.0], [1.0], [2.0]]), np.full(3, 1 / 3)
    >>> codebook = np.array([[0.0], [2.5], [1.9], [40.0]])
    >>> stranded_codes(codebook, np.array([False, True, True, True]), support)
    array([False,  True, False,  True])
    """
    stranded = np.zeros(candidates.shape[0], dtype=bool)
    checked = np.flatnonzero(candidates)
    if checked.size == 0:
        return stranded
    rows = support[0]
    codes = np.asarray(to_host(codebook), dtype=np.float64)
    # Rows may be sparse (CSR): sklearn's argmin takes them as they are.
    nearest_rows = rows[pairwise_distances_argmin(codes[checked], rows)]
    owners = backend_of(rows).assign(nearest_rows, codes).labels
    stranded[checked] = owners != checked
    return stranded


def place_unused_codes(codebook, unused, support, rng):
    """Send every unused code to the data that the used codes serve worst.

    An unused code (no rows assigned) would otherwise move to its transport
    target, which need not lie where data exist (a sliced target of a code in a
    sparse tail can land in empty space) and, once ``g`` has decayed, would stay
    there dead. Instead the unused codes are seeded by k-means++ continued from
    the used ones (``skwvq.initialization.kmeans_plusplus_rows``) on the rows of
    the data support: each goes to a row drawn with probability proportional to
    its weight times its squared distance to the nearest code, the best of a
    few such draws. A row already on a code has probability zero, so a placed
    code is the only code on its row, and the nearest code of that row. Where
    fewer distinct rows remain than unused codes, the rest stay where they are.

    Parameters
    ----------
    codebook : array or tensor of shape (n_codes, n_features)
        The updated codebook.
    unused : ndarray of shape (n_codes,), bool
        Codes to place (on the host).
    support : tuple of (ndarray or CSR matrix of shape (n_points, n_features), ndarray of shape (n_points,))
        Rows of the data and their masses (float64, on the host): the
        alignment's ``support``.
    rng : numpy.random.RandomState

    Returns
    -------
    array or tensor of shape (n_codes, n_features), in the dtype of ``codebook``

    Examples
    --------
    >>> import numpy as np
    >>> codebook = np.array([[0.0], [50.0], [60.0]])
    >>> support = np.array([[0.0], [0.5], [10.0], [20.0]]), np.full(4, 0.25)
    >>> unused = np.array([False, True, True])
    >>> placed = place_unused_codes(codebook, unused, support, np.random.RandomState(0))
    >>> np.sort(placed[:, 0])  # code 0 stays; the others go where it serves worst
    array([ 0., 10., 20.])
    """
    remaining = np.flatnonzero(unused)
    if remaining.size == 0:
        return codebook
    nx = backend_of(codebook)
    rows, masses = support
    size = seeding_sample_size(rows.shape[0], remaining.size, entries_per_row(rows))
    if size < rows.shape[0]:
        index = np.sort(rng.choice(rows.shape[0], size=size, replace=False))
        rows, masses = rows[index], masses[index]
    used = np.asarray(to_host(codebook), dtype=np.float64)[~unused]
    closest = None
    if used.shape[0]:
        closest = backend_of(rows).assign(rows, used).sq_distances
    chosen = kmeans_plusplus_rows(rows, remaining.size, masses, rng, closest=closest)
    placed = nx.float64(codebook) + 0.0  # a copy: steps never write into their input
    placed[remaining[: chosen.size]] = nx.asarray(dense(rows[chosen]))
    return nx.cast_like(placed, codebook)
