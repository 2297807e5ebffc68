"""Codes of the multi-codebook quantizers: their integer dtype and checks, decoding, and the beam search that encodes residual codes."""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_array

from .kernels import slices

# Codes are stored in the smallest unsigned type that holds every index.
CODE_DTYPES = ((256, np.uint8), (65536, np.uint16))
MAX_CODES = CODE_DTYPES[-1][0]
# Beam search holds rows x beam x codes distances at a time: 4M entries (16 MB
# of float32) per chunk of rows whatever the sizes.
_BEAM_BLOCK_ENTRIES = 1 << 22
# Tables of the codebooks' cross inner products serve the beam search while they
# hold at most this many entries (M (M - 1) / 2 x K^2: 16 levels of 256 codes
# take 7.9M); past it each beam entry's residual is kept and multiplied instead.
_TABLE_MAX_ENTRIES = 1 << 24


def code_dtype(n_codes: int) -> np.dtype:
    """The unsigned integer type of codes of a codebook of ``n_codes`` codes.

    Examples
    --------
    >>> code_dtype(256), code_dtype(257)
    (dtype('uint8'), dtype('uint16'))
    """
    for limit, dtype in CODE_DTYPES:
        if n_codes <= limit:
            return np.dtype(dtype)
    raise ValueError(
        f"n_clusters={n_codes} codes do not fit the code type: multi-codebook "
        f"codes are uint8 (up to 256 codes) or uint16 (up to {MAX_CODES:,}). Use "
        "more codebooks of fewer codes each."
    )


def check_codes(codes, n_codebooks: int, n_codes: int) -> np.ndarray:
    """``codes`` checked as ``(n_samples, n_codebooks)`` integers in ``[0, n_codes)``, as int64.

    Examples
    --------
    >>> check_codes([[0, 3]], n_codebooks=2, n_codes=4)
    array([[0, 3]])
    """
    codes = check_array(codes, dtype=None, input_name="codes")
    if codes.shape[1] != n_codebooks:
        raise ValueError(
            f"codes have {codes.shape[1]} columns, but the quantizer has "
            f"n_codebooks={n_codebooks}: pass the output of transform."
        )
    if codes.dtype.kind not in "iu" and not np.all(np.mod(codes, 1) == 0):
        raise ValueError(f"codes must be integers; got {codes.dtype} values.")
    if codes.size and (codes.min() < 0 or codes.max() >= n_codes):
        raise ValueError(
            f"codes must lie in [0, {n_codes}); got values in "
            f"[{codes.min()}, {codes.max()}]."
        )
    return codes.astype(np.int64)


def decode(codes, codebooks):
    """The sum over levels of each row's codes: ``sum_m codebooks[m][codes[:, m]]``.

    ``codebooks`` is a sequence of ``(n_codes, n_features)`` arrays on the
    backend of ``codes``.

    Examples
    --------
    >>> import numpy as np
    >>> decode(np.array([[1, 0]]), np.array([[[0.0], [1.0]], [[10.0], [20.0]]]))
    array([[11.]])
    """
    total = codebooks[0][codes[:, 0]]
    for level in range(1, len(codebooks)):
        total = total + codebooks[level][codes[:, level]]
    return total


def cross_tables(nx, codebooks):
    """``tables[j][m] = codebooks[j] @ codebooks[m].T`` for ``j < m``, or None when too large."""
    n_levels, n_codes = len(codebooks), codebooks[0].shape[0]
    if n_levels * (n_levels - 1) // 2 * n_codes * n_codes > _TABLE_MAX_ENTRIES:
        return None
    return [
        [codebooks[j] @ codebooks[m].T if j < m else None for m in range(n_levels)]
        for j in range(n_levels)
    ]


def beam_encode(nx, X, codebooks, beam_size: int, tables=None):
    """Residual codes of the rows of ``X`` by beam search over the levels.

    At each level every one of the ``beam_size`` best partial encodings of a
    row is extended by every code, and the ``beam_size`` extensions of least
    squared error are kept; ``beam_size=1`` is the greedy encoding. The error
    of an extension is ``|r|^2 + |c|^2 - 2 x.c + 2 sum_j c_j.c`` over the
    codes ``c_j`` already chosen, read from ``tables`` (``cross_tables``), so
    that a level costs one product of X with its codebook whatever the beam;
    without tables each partial encoding's residual is multiplied instead.

    Parameters
    ----------
    nx : NumpyBackend or TorchBackend
    X : array of shape (n_samples, n_features) on ``nx``
    codebooks : array of shape (n_codebooks, n_codes, n_features) on ``nx``
        In X's dtype.
    beam_size : int
    tables : list of lists, default=None
        ``cross_tables(nx, codebooks)``; computed here if None.

    Returns
    -------
    codes : array of shape (n_samples, n_codebooks), int64 on ``nx``
    sq_errors : array of shape (n_samples,)
        Squared distance of each row to its reconstruction.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.backends import backend_of
    >>> codebooks = np.array([[[0.0], [4.0]], [[0.0], [1.0]]])
    >>> codes, errors = beam_encode(backend_of(), np.array([[5.0]]), codebooks, 2)
    >>> codes, errors
    (array([[1, 1]]), array([0.]))
    """
    if tables is None:
        tables = cross_tables(nx, codebooks)
    n_codes = codebooks.shape[1]
    chunk = max(1, _BEAM_BLOCK_ENTRIES // (beam_size * n_codes))
    parts = [
        _beam_chunk(nx, X[rows], codebooks, beam_size, tables)
        for rows in slices(X.shape[0], chunk)
    ]
    if not parts:
        empty = nx.asarray(np.zeros((0, codebooks.shape[0]), dtype=np.int64))
        return empty, nx.sq_norms(X)
    return nx.concatenate([p[0] for p in parts]), nx.concatenate([p[1] for p in parts])


def _beam_chunk(nx, X, codebooks, beam_size, tables):
    n_levels, n_codes = codebooks.shape[0], codebooks.shape[1]
    n_rows = X.shape[0]
    code_norms = nx.sum(codebooks * codebooks, axis=2)
    scores = nx.reshape(nx.sq_norms(X), (n_rows, 1))
    residuals = None if tables is not None else nx.reshape(X, (n_rows, 1, -1))
    codes = None
    for level in range(n_levels):
        codebook = codebooks[level]
        if tables is None:
            products = residuals @ codebook.T
        else:
            products = (X @ codebook.T)[:, None, :]
            for j in range(level):
                products = products - tables[j][level][codes[:, :, j]]
        errors = scores[:, :, None] + code_norms[level] - 2 * products
        flat = nx.reshape(errors, (n_rows, -1))
        keep = nx.smallest(flat, beam_size)
        scores = nx.take_along_axis(flat, keep, 1)
        parent, chosen = keep // n_codes, keep % n_codes
        if codes is None:
            codes = chosen[:, :, None]
        else:
            kept = [nx.take_along_axis(codes[:, :, j], parent, 1) for j in range(level)]
            codes = nx.stack([*kept, chosen], axis=2)
        if residuals is not None:
            rows = nx.arange(n_rows, type_as=parent)[:, None]
            residuals = residuals[rows, parent] - codebook[chosen]
    best = nx.argmin(scores, axis=1)
    rows = nx.arange(n_rows, type_as=best)
    return codes[rows, best], nx.maximum(scores[rows, best], 0.0)
