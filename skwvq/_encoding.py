"""What ``predict``, ``transform`` and ``inverse_transform`` compute on in-memory rows: the nearest codes, the four encodings and their decoders.

Each function takes rows of ``skwvq._inputs`` and returns its result in the
input's kind (``rows.wrap``); ``rows.apply`` runs it at once, or block by
block on a dask array, where ``output`` describes what each block returns.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array

from ._inputs import Output
from .backends import to_host

ENCODINGS = ("quantized", "distance", "onehot", "ordinal")


def output(estimator, dtype) -> Output:
    """What a fitted estimator's ``transform`` returns per row of ``dtype`` under its ``encode``.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq import WassersteinVQ
    >>> vq = WassersteinVQ.from_codebook(np.zeros((16, 3)), encode="ordinal")
    >>> output(vq, np.float32)
    Output(columns=1, dtype=<class 'numpy.int64'>, sparse=False)
    """
    if estimator.encode == "quantized":
        return Output(estimator.n_features_in_, dtype)
    if estimator.encode == "ordinal":
        return Output(1, np.int64)
    return Output(estimator.n_clusters_, dtype, sparse=estimator.encode == "onehot")


def nearest(rows, codebook):
    """Index of each row's nearest code."""
    return rows.wrap(rows.labels(rows.codebook_here(codebook)))


def encode(rows, codebook, encoding: str):
    """The rows under ``encoding`` (see ``WassersteinVQ.transform``)."""
    codebook = rows.codebook_here(codebook)
    if encoding == "distance":
        return rows.wrap(rows.distances(codebook))
    labels = rows.labels(codebook)
    if encoding == "quantized":
        return rows.quantized(codebook, labels)
    if encoding == "ordinal":
        return rows.wrap(labels[:, None])
    n_samples = rows.n_samples
    onehot = sp.csr_matrix(
        (
            np.ones(n_samples, dtype=rows.dtype),
            to_host(labels),
            np.arange(n_samples + 1),
        ),
        shape=(n_samples, codebook.shape[0]),
    )
    return rows.wrap(onehot)


def quantize(rows, codebook):
    """Each row's nearest code vector, dense (the decoder of the ``"quantized"`` encoding)."""
    codebook = rows.codebook_here(codebook)
    return rows.wrap(codebook[rows.labels(codebook)])


def decode(rows, codebook, encoding: str):
    """The code vectors that an ``"ordinal"``, ``"onehot"`` or ``"distance"`` encoding names."""
    n_codes = codebook.shape[0]
    if encoding == "ordinal":
        codes = check_array(rows.data, dtype=None, input_name="X")
        if codes.shape[1] != 1 or not np.all(np.mod(codes, 1) == 0):
            raise ValueError("ordinal codes must be one column of integers.")
        codes = codes[:, 0].astype(np.int64)
        if codes.min() < 0 or codes.max() >= n_codes:
            raise ValueError(f"codes must lie in [0, {n_codes}).")
        return rows.wrap(codebook[codes])
    encoded = check_array(rows.data, accept_sparse="csr", dtype=None, input_name="X")
    if encoded.shape[1] != n_codes:
        raise ValueError(
            f"X has {encoded.shape[1]} columns; {encoding!r} codes have "
            f"n_clusters={n_codes}."
        )
    if encoding == "onehot":
        codes = np.asarray(encoded.argmax(axis=1)).ravel()
    else:
        codes = np.asarray(encoded).argmin(axis=1)
    return rows.wrap(codebook[codes])
