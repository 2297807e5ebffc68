"""The input adapter: the one place that asks what X is.

``as_rows`` looks at X once, at the door of the estimator, the metrics or the
layer, and returns a ``Rows`` (``_base``) with one interface for every kind
of input: its shape, dtype and backend, its weights, its moments, rows by
index on the host, the solver's source of row blocks, the final assignment,
inference, and results wrapped back into the input's kind. Below it nothing
branches on the kind of X. One module per kind:

- ``_dense``: numpy arrays and memory maps (placed on the torch backend's
  device when they fit);
- ``_sparse``: scipy CSR matrices, never densified;
- ``_tensor``: torch tensors, results back on the input's device;
- ``_dask``: dask arrays and DataFrames, fitted on their cluster, inferred lazily.

A new kind of input (a CuPy array, an Arrow table) is one new module here and
one branch of ``as_rows``.
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.sparse as sp
from sklearn.utils import check_array
from sklearn.utils.validation import validate_data

from ..backends import (
    NumpyBackend,
    TorchBackend,
    backend_of,
    import_torch,
    is_tensor,
    to_host,
    torch_backend,
)
from ._base import EncodedRows, InMemoryRows, Output, Rows
from ._dense import DenseRows
from ._sparse import SparseRows
from ._tensor import TensorOutput, TensorRows, check_tensor

__all__ = [
    "EncodedRows",
    "InMemoryRows",
    "Output",
    "Rows",
    "as_rows",
    "resolve_backend",
]


def is_dask_collection(X) -> bool:
    """Whether ``X`` is a dask collection, without importing dask when the caller has not.

    Examples
    --------
    >>> import numpy as np
    >>> is_dask_collection(np.zeros(3))
    False
    """
    if "dask" not in sys.modules:
        return False
    from dask.base import is_dask_collection as dask_collection

    return dask_collection(X)


def resolve_backend(backend: str, device, X) -> NumpyBackend | TorchBackend:
    """The backend an estimator's ``backend`` and ``device`` parameters select for input ``X``.

    ``"auto"`` picks torch when ``X`` is a torch tensor or a ``device`` is named,
    numpy otherwise. The torch device is ``device`` when given, else the
    tensor's own device, else ``"cuda"`` when available and ``"cpu"`` otherwise.

    Parameters
    ----------
    backend : {"auto", "numpy", "torch"}
    device : str, torch.device or None
    X : array-like or torch.Tensor

    Returns
    -------
    NumpyBackend or TorchBackend

    Examples
    --------
    >>> import numpy as np
    >>> resolve_backend("auto", None, np.zeros((2, 2))).__name__
    'numpy'
    """
    if backend == "auto":
        backend = "torch" if is_tensor(X) or device is not None else "numpy"
    if backend == "numpy":
        if device is not None and str(device) != "cpu":
            raise ValueError(
                f"device={device!r} needs backend='torch' (or 'auto'); the numpy "
                "backend runs on the CPU."
            )
        return backend_of()
    torch = import_torch()
    if device is None:
        if is_tensor(X):
            device = X.device
        else:
            device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device={device!r} is not a torch device: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was asked for, but torch sees no CUDA device."
        )
    return torch_backend(str(device))


def as_rows(
    X,
    *,
    backend: str = "auto",
    device=None,
    estimator=None,
    reset: bool = False,
    stream: bool = False,
    features: bool = True,
) -> Rows:
    """X validated once and wrapped as the ``Rows`` of its kind.

    Parameters
    ----------
    X : array-like, sparse matrix, tensor, dask array or dask DataFrame
    backend : {"auto", "numpy", "torch"}, default="auto"
        With ``device``, as the estimator's parameters: see ``resolve_backend``.
    device : str or torch.device, default=None
    estimator : estimator, default=None
        Validated through scikit-learn's ``validate_data`` (feature count and
        names set when ``reset``, checked otherwise); plain ``check_array``
        if None.
    reset : bool, default=False
    stream : bool, default=False
        X is one batch of a ``partial_fit`` stream, which must be in memory.
    features : bool, default=True
        X holds features; False: an encoding for ``inverse_transform``, kept
        as given (on the host) for the decoder to check.

    Returns
    -------
    Rows

    Examples
    --------
    >>> import numpy as np
    >>> rows = as_rows(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> type(rows).__name__, rows.shape, rows.nx.__name__
    ('DenseRows', (2, 2), 'numpy')
    """
    nx = resolve_backend(backend, device, X)
    if is_dask_collection(X):
        from ._dask import DaskRows

        if stream:
            raise TypeError(
                "partial_fit takes one batch in memory. Fit a dask array with "
                "fit(X), or stream its blocks through partial_fit with "
                "dask_ml.wrappers.Incremental."
            )
        if nx.__name__ == "torch":
            raise TypeError(
                "A dask array is fitted by the numpy kernels on its workers; "
                "use backend='auto' or 'numpy' without a device."
            )
        if features:
            # A dask DataFrame's feature names are those of its (empty) pandas meta.
            described = X._meta if hasattr(X, "columns") else X
            _check_features(estimator, described, reset, skip_check_array=True)
        return DaskRows(X, features=features)
    wrap = TensorOutput(X.device) if is_tensor(X) else None
    if not features:
        return EncodedRows(to_host(X), wrap)
    if is_tensor(X) and nx.__name__ == "torch":
        X = check_tensor(X)
        if estimator is not None:
            if reset:
                vars(estimator).pop("feature_names_in_", None)
                estimator.n_features_in_ = X.shape[1]
            elif X.shape[1] != estimator.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(estimator).__name__} "
                    f"is expecting {estimator.n_features_in_} features as input."
                )
        return TensorRows(X, nx, wrap)
    if sp.issparse(X) and nx.__name__ == "torch":
        raise TypeError(
            "Sparse X runs on the numpy backend only; backend='torch' (or a "
            "device) needs dense data: pass X.toarray() or a dense tensor, or "
            "use backend='numpy'."
        )
    X = _check_features(estimator, to_host(X), reset)
    if sp.issparse(X):
        return SparseRows(X, nx, wrap)
    return DenseRows(X, nx, wrap)


def _check_features(estimator, X, reset, **kwargs):
    """``validate_data`` for an estimator's X (sets or checks its features), else ``check_array``."""
    if estimator is not None:
        return validate_data(
            estimator,
            X,
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            reset=reset,
            **kwargs,
        )
    if kwargs.get("skip_check_array"):
        return X
    return check_array(
        X, accept_sparse="csr", dtype=[np.float64, np.float32], input_name="X"
    )
