"""Figures of a fitted quantizer (matplotlib, the ``plot`` extra): training history, code usage, the codebook over the data, and ``skwvq compare``'s table."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.decomposition import PCA
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._statistics import perplexity_from_counts, utilization_from_counts
from .backends import dense
from .metrics import _check_inputs, _Judged, _usage

try:
    import matplotlib.pyplot as plt
except ImportError as error:  # pragma: no cover - exercised without matplotlib only
    raise ImportError(
        "skwvq.plotting needs matplotlib, which is not installed. Install it with "
        "`pip install 'skwvq[plot]'` (or `pip install matplotlib`)."
    ) from error

__all__ = ["plot_codebook", "plot_code_usage", "plot_comparison", "plot_history"]

HISTORY_LABELS = {
    "J": "objective J",
    "E": "quantization error E",
    "U": "utilization U",
    "C": "perplexity C",
    "W": "Wasserstein W",
    "alignment_weight": "alignment weight g",
}
DEAD_COLOR = "tab:red"
CODE_COLOR = "tab:blue"


def _axes_grid(n_panels: int, axes):
    """``n_panels`` Axes: the given ones (checked) or a new figure's, in at most three columns."""
    if axes is not None:
        axes = np.atleast_1d(np.asarray(axes, dtype=object)).ravel()
        if axes.size != n_panels:
            raise ValueError(f"axes holds {axes.size} Axes; {n_panels} are needed.")
        return axes
    n_cols = min(n_panels, 3)
    n_rows = -(-n_panels // n_cols)
    _, grid = plt.subplots(
        n_rows,
        n_cols,
        figsize=(3.2 * n_cols, 2.6 * n_rows),
        squeeze=False,
        layout="constrained",
    )
    for extra in grid.ravel()[n_panels:]:
        extra.set_visible(False)
    return grid.ravel()[:n_panels]


def _code_counts(quantizer, X, sample_weight=None):
    """The rows of X in the quantizer's space (a pipeline's earlier steps applied), its codebook and each code's weighted count, validated."""
    judged = _Judged(quantizer, X)
    if judged.codebook is None:
        raise TypeError(
            f"{type(quantizer).__name__} has several codebooks; plot one level "
            "with its estimators_[m] and that level's input."
        )
    rows, codebook = _check_inputs(judged.X, judged.codebook, sample_weight)
    _, counts = _usage(rows, codebook)
    return rows, codebook, np.asarray(counts, dtype=float)


def plot_history(estimator, *, keys: Sequence[str] | None = None, axes=None):
    """Plot a fit's history: J, E, U, C, W and the alignment weight g against the iteration.

    Parameters
    ----------
    estimator : WassersteinVQ or Pipeline ending in one
        Fitted; its ``history_`` holds one value per iteration (epoch).
    keys : sequence of str, default=None
        Which of ``history_``'s entries to draw, one panel each; all six if None.
    axes : array-like of matplotlib Axes, default=None
        One per key; a new figure if None.

    Returns
    -------
    ndarray of matplotlib Axes
        One per key, in the order of ``keys``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skwvq import WassersteinVQ
    >>> from skwvq.plotting import plot_history
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> vq = WassersteinVQ(16, max_iter=5, random_state=0).fit(X)
    >>> axes = plot_history(vq, keys=["E", "U"])
    >>> [ax.get_ylabel() for ax in axes]
    ['quantization error E', 'utilization U']
    """
    fitted = estimator[-1] if hasattr(estimator, "steps") else estimator
    check_is_fitted(fitted)
    history = getattr(fitted, "history_", None)
    if history is None:
        raise TypeError(
            f"{type(fitted).__name__} keeps no history_ of its iterations: "
            "plot_history needs a fitted WassersteinVQ. plot_code_usage and "
            "plot_codebook take any fitted quantizer."
        )
    keys = list(HISTORY_LABELS if keys is None else keys)
    unknown = [key for key in keys if key not in history]
    if unknown:
        raise ValueError(f"history_ has no {unknown}; it holds {sorted(history)}.")
    axes = _axes_grid(len(keys), axes)
    for ax, key in zip(axes, keys):
        values = np.asarray(history[key], dtype=float)
        ax.plot(np.arange(1, values.size + 1), values, marker=".", color=CODE_COLOR)
        ax.set_xlabel("iteration")
        ax.set_ylabel(HISTORY_LABELS.get(key, key))
        ax.grid(alpha=0.3)
    return axes


def plot_code_usage(quantizer, X, *, sample_weight=None, ax=None, title=None):
    """Plot each code's share of the data, most used first, dead codes marked.

    A uniform codebook would give every code ``1/K`` (dashed line); codes that
    no row uses sit at the right end, shaded red.

    Parameters
    ----------
    quantizer : fitted estimator with ``codebook_`` or ``cluster_centers_``
        WassersteinVQ, KMeans, MiniBatchKMeans, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
    sample_weight : array-like of shape (n_samples,), default=None
    ax : matplotlib Axes, default=None
        A new figure's if None.
    title : str, default=None
        Above the panel; the quantizer's class name if None.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sklearn.cluster import MiniBatchKMeans
    >>> from skwvq.plotting import plot_code_usage
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> far = np.full((8, 2), 20.0) + np.arange(8)[:, None]  # one code wins, 7 die
    >>> km = MiniBatchKMeans(8, init=far, n_init=1, reassignment_ratio=0).fit(X)
    >>> ax = plot_code_usage(km, X)
    >>> ax.get_legend_handles_labels()[1]
    ['uniform share 1/K', '7 dead codes']
    """
    _, _, counts = _code_counts(quantizer, X, sample_weight)
    shares = np.sort(counts)[::-1] / max(counts.sum(), 1e-300)
    n_codes = shares.size
    n_dead = int(np.sum(shares <= 0))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    ranks = np.arange(n_codes)
    # An edge keeps a bar visible where it is narrower than a pixel (a few live
    # codes among thousands of dead ones).
    ax.bar(
        ranks, shares, width=1.0, color=CODE_COLOR, edgecolor=CODE_COLOR, linewidth=0.8
    )
    ax.axhline(1 / n_codes, color="black", linestyle="--", label="uniform share 1/K")
    if n_dead:
        ax.axvspan(
            n_codes - n_dead - 0.5,
            n_codes - 0.5,
            color=DEAD_COLOR,
            alpha=0.25,
            zorder=0,
            label=f"{n_dead} dead code{'s' if n_dead > 1 else ''}",
        )
        if n_dead > n_codes // 2:  # the live bars are a sliver at the left edge
            n_live = n_codes - n_dead
            ax.annotate(
                f"{n_live} live code{'s' if n_live != 1 else ''}\nserve all the data",
                xy=(0, shares[0]),
                xytext=(0.12, 0.75),
                textcoords="axes fraction",
                arrowprops={"arrowstyle": "->"},
            )
    ax.set_xlim(-0.5, n_codes - 0.5)
    ax.set_xlabel("code, by usage")
    ax.set_ylabel("share of the data")
    name = title or type(quantizer).__name__
    utilization, perplexity = (
        utilization_from_counts(counts),
        perplexity_from_counts(counts),
    )
    ax.set_title(f"{name}: U = {utilization:.3f}, C = {perplexity:.1f}")
    ax.legend(loc="upper right")
    return ax


def plot_codebook(
    quantizer,
    X,
    *,
    ax=None,
    max_points: int = 5000,
    random_state=0,
    title=None,
):
    """Plot the codes over the data; on the data's first two principal axes when d > 2.

    Used codes are dots, dead codes (no row assigned) red crosses.

    Parameters
    ----------
    quantizer : fitted estimator with ``codebook_`` or ``cluster_centers_``
        WassersteinVQ, KMeans, MiniBatchKMeans, or a pipeline ending in one.
    X : array-like of shape (n_samples, n_features)
    ax : matplotlib Axes, default=None
        A new figure's if None.
    max_points : int, default=5000
        Rows drawn (uniformly, without replacement) for the scatter and the
        principal axes; all of them when there are fewer.
    random_state : int, RandomState instance or None, default=0
        Draws those rows.
    title : str, default=None
        Above the panel; the quantizer's class name if None.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skwvq import WassersteinVQ
    >>> from skwvq.plotting import plot_codebook
    >>> X = np.random.default_rng(0).normal(size=(1000, 5))
    >>> vq = WassersteinVQ(16, max_iter=5, random_state=0).fit(X)
    >>> plot_codebook(vq, X).get_xlabel()[:4]
    'PC 1'
    """
    if not isinstance(max_points, int | np.integer) or max_points < 1:
        raise ValueError(f"max_points must be a positive integer, got {max_points!r}.")
    data, codebook, counts = _code_counts(quantizer, X)
    rng = check_random_state(random_state)
    n_samples, n_features = data.shape
    index = np.arange(n_samples)
    if n_samples > max_points:
        index = np.sort(rng.choice(n_samples, max_points, replace=False))
    rows = dense(data.host_rows(index))
    codes = np.asarray(codebook)
    if n_features > 2:
        pca = PCA(n_components=2, random_state=rng).fit(rows)
        rows, codes = pca.transform(rows), pca.transform(codes)
        explained = pca.explained_variance_ratio_
        labels = [
            f"PC {i + 1} ({100 * explained[i]:.0f}% of the variance)" for i in range(2)
        ]
    elif n_features == 2:
        labels = ["feature 0", "feature 1"]
    else:
        rows = np.column_stack([rows[:, 0], np.zeros(rows.shape[0])])
        codes = np.column_stack([codes[:, 0], np.zeros(codes.shape[0])])
        labels = ["feature 0", ""]
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 4), layout="constrained")
    ax.scatter(
        rows[:, 0],
        rows[:, 1],
        s=3,
        color="0.7",
        alpha=0.5,
        label="data",
        rasterized=True,
    )
    dead = counts <= 0
    ax.scatter(
        codes[~dead, 0], codes[~dead, 1], s=14, color=CODE_COLOR, label="used codes"
    )
    if dead.any():
        ax.scatter(
            codes[dead, 0],
            codes[dead, 1],
            s=24,
            marker="x",
            color=DEAD_COLOR,
            label=f"dead codes ({int(dead.sum())})",
        )
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title(title or type(quantizer).__name__)
    ax.legend(loc="best", markerscale=1.5)
    return ax


def plot_comparison(rows, *, axes=None):
    """Plot ``skwvq compare``'s results: per data set, E relative to the best, U, C and fit time.

    One row of four panels per data set, one horizontal bar per method.

    Parameters
    ----------
    rows : sequence of skwvq.cli.Row
        What ``skwvq.cli.compare`` returns (data set, method, E, U, C, W, fit seconds).
    axes : array-like of matplotlib Axes of shape (n_datasets, 4), default=None
        A new figure's if None.

    Returns
    -------
    ndarray of matplotlib Axes of shape (n_datasets, 4)

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skwvq.cli import Row
    >>> from skwvq.plotting import plot_comparison
    >>> rows = [Row("toy", "KMeans", 2.0, 0.5, 10.0, 1.0, 0.1),
    ...         Row("toy", "WassersteinVQ", 1.0, 1.0, 60.0, 0.2, 0.2)]
    >>> [ax.get_xlabel() for ax in plot_comparison(rows)[0]]
    ['E / lowest E', 'utilization U', 'perplexity C', 'fit seconds']
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows is empty: there is nothing to plot.")
    datasets = list(dict.fromkeys(row.dataset for row in rows))
    panels = ("E / lowest E", "utilization U", "perplexity C", "fit seconds")
    if axes is None:
        n_methods = max(sum(row.dataset == d for row in rows) for d in datasets)
        _, axes = plt.subplots(
            len(datasets),
            len(panels),
            figsize=(12, (0.8 + 0.28 * n_methods) * len(datasets)),
            squeeze=False,
            sharey="row",
            layout="constrained",
        )
    axes = np.asarray(axes, dtype=object).reshape(len(datasets), len(panels))
    for dataset, row_axes in zip(datasets, axes):
        chosen = [row for row in rows if row.dataset == dataset]
        lowest = min(row.E for row in chosen)
        values = (
            [row.E / lowest if lowest > 0 else 1.0 for row in chosen],
            [row.U for row in chosen],
            [row.C for row in chosen],
            [row.fit_seconds for row in chosen],
        )
        positions = np.arange(len(chosen))[::-1]
        for ax, label, heights in zip(row_axes, panels, values):
            ax.barh(positions, heights, color=CODE_COLOR)
            ax.set_yticks(positions, [row.method for row in chosen])
            ax.set_xlabel(label)
            ax.grid(axis="x", alpha=0.3)
        row_axes[0].set_title(dataset, loc="left", fontweight="bold")
    return axes
