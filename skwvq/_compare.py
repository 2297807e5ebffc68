"""The comparison ``skwvq compare`` runs: KMeans, MiniBatchKMeans and WassersteinVQ from one shared initial codebook, with torch the VQ layers, each scored by E, U, C and W."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans

from ._progress import progress as report_progress
from .estimator import WassersteinVQ
from .metrics import (
    codebook_perplexity,
    codebook_utilization,
    quantization_error,
    wasserstein_distance,
)


class Dataset(NamedTuple):
    """One comparison problem: the data and the initial codebook all methods share."""

    name: str
    title: str
    X: np.ndarray
    init: np.ndarray


class Row(NamedTuple):
    """One fitted method's scores on one data set."""

    dataset: str
    method: str
    E: float
    U: float
    C: float
    W: float
    fit_seconds: float


def _methods(
    init: np.ndarray, alignments: Sequence[str], max_iter: int, seed: int
) -> list[tuple[str, Callable[[], object]]]:
    """(name, factory) of every quantizer to compare, all starting from ``init``."""
    n_clusters = init.shape[0]
    methods: list[tuple[str, Callable[[], object]]] = [
        (
            "KMeans",
            lambda: KMeans(
                n_clusters, init=init, n_init=1, max_iter=max_iter, random_state=seed
            ),
        ),
        (
            "MiniBatchKMeans",
            lambda: MiniBatchKMeans(
                n_clusters, init=init, n_init=1, max_iter=max_iter, random_state=seed
            ),
        ),
    ]
    for alignment in alignments:
        methods.append(
            (
                f"WassersteinVQ({alignment})",
                lambda alignment=alignment: WassersteinVQ(
                    n_clusters,
                    alignment=alignment,
                    init=init,
                    max_iter=max_iter,
                    random_state=seed,
                ),
            )
        )
    return methods


class _TrainedLayer:
    """A VQ layer trained on the rows of X for ``epochs`` epochs, with ``fit`` and ``cluster_centers_``."""

    def __init__(self, make_layer: Callable[[], object], epochs: int, seed: int):
        self.make_layer, self.epochs, self.seed = make_layer, epochs, seed

    def fit(self, X: np.ndarray) -> _TrainedLayer:
        from ._reference_layers import train_layer

        self.cluster_centers_ = train_layer(
            self.make_layer(), X, epochs=self.epochs, seed=self.seed
        )
        return self


def _layer_methods(
    init: np.ndarray, max_iter: int, seed: int
) -> list[tuple[str, Callable[[], object]]]:
    """(name, factory) of the VQ layers, trained for ``max_iter`` epochs of batches of 1024 rows from ``init``."""
    from ._reference_layers import EmaVQ, StraightThroughVQ
    from .nn import WassersteinQuantizer

    K, d = init.shape
    layers = [
        ("VQ layer (straight-through)", lambda: StraightThroughVQ(init)),
        ("VQ layer (EMA 0.99)", lambda: EmaVQ(init)),
        (
            "WassersteinQuantizer",
            lambda: WassersteinQuantizer(d, K, init=init, random_state=seed),
        ),
    ]
    return [
        (name, lambda make=make: _TrainedLayer(make, max_iter, seed))
        for name, make in layers
    ]


def torch_available() -> bool:
    """Whether torch imports (the layers are compared only then)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def warm_up(dtypes: set[np.dtype], alignments: Sequence[str]) -> None:
    """Compile the numba kernels on a tiny problem so no timed fit pays for it."""
    rng = np.random.default_rng(0)
    for dtype in dtypes:
        X = rng.normal(size=(64, 2)).astype(dtype)
        for alignment in alignments:
            WassersteinVQ(4, alignment=alignment, max_iter=2, random_state=0).fit(X)


def _score(dataset: Dataset, method: str, model, fit_seconds: float) -> Row:
    X, codebook = dataset.X, model.cluster_centers_
    return Row(
        dataset=dataset.name,
        method=method,
        E=quantization_error(X, codebook),
        U=codebook_utilization(X, codebook),
        C=codebook_perplexity(X, codebook),
        W=wasserstein_distance(X, codebook, method="gaussian"),
        fit_seconds=fit_seconds,
    )


def compare(
    dataset: Dataset,
    alignments: Sequence[str],
    max_iter: int,
    seed: int,
    layers: bool = False,
    progress: bool = False,
) -> list[Row]:
    """Fit every method on ``dataset`` from its shared init and score it on all of X.

    Parameters
    ----------
    dataset : Dataset
        The data and the initial codebook (its row count is K).
    alignments : sequence of {"gaussian", "sliced", "exact"}
        One ``WassersteinVQ`` row per alignment, after ``KMeans`` and
        ``MiniBatchKMeans``.
    max_iter : int
        Iterations (epochs for ``MiniBatchKMeans``) allowed to every method.
    seed : int
        ``random_state`` of every method.
    layers : bool, default=False
        Also train three VQ layers (needs torch) on the rows of X, ``max_iter``
        epochs of batches of 1024 from the same init: a plain straight-through
        layer and an EMA layer, the two that collapse from a far start, and
        ``skwvq.nn.WassersteinQuantizer``.
    progress : bool, default=False
        Report each finished fit: a tqdm bar when tqdm is installed, otherwise
        a line on stderr.

    Returns
    -------
    list of Row
        E, U, C, W (Gaussian closed form) and the wall time of ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq.cli import Dataset, compare
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> rows = compare(Dataset("toy", "toy", X, X[:4]), ["gaussian"], 5, 0)
    >>> [row.method for row in rows]
    ['KMeans', 'MiniBatchKMeans', 'WassersteinVQ(gaussian)']
    """
    rows = []
    methods = _methods(dataset.init, alignments, max_iter, seed)
    if layers:
        methods += _layer_methods(dataset.init, max_iter, seed)
    if progress:
        methods = report_progress(methods, total=len(methods), desc=dataset.name)
    for method, make in methods:
        model = make()
        start = time.perf_counter()
        model.fit(dataset.X)
        fit_seconds = time.perf_counter() - start
        rows.append(_score(dataset, method, model, fit_seconds))
    return rows
