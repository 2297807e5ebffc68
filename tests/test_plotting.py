"""skwvq.plotting: what each figure draws, against references computed here, and its errors.

References are independent of the code under test: sklearn's
``pairwise_distances_argmin`` for the usage of each code, sklearn's ``PCA`` for
the projected codebook.
"""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.cluster import KMeans, MiniBatchKMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.metrics import pairwise_distances_argmin  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from skwvq import WassersteinVQ  # noqa: E402
from skwvq.cli import Row  # noqa: E402
from skwvq.plotting import (  # noqa: E402
    plot_code_usage,
    plot_codebook,
    plot_comparison,
    plot_history,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(600, 5)) + 3 * rng.integers(0, 3, size=(600, 1))


@pytest.fixture(scope="module")
def fitted(data):
    return WassersteinVQ(12, max_iter=6, tol=0, random_state=0).fit(data)


@pytest.fixture(scope="module")
def collapsed(data):
    """A quantizer with dead codes: MiniBatchKMeans from a far start, never reassigned."""
    far = 40.0 + np.arange(10)[:, None] * np.ones((10, 5))
    return MiniBatchKMeans(10, init=far, n_init=1, reassignment_ratio=0).fit(data)


def _shares(quantizer_codes, X):
    labels = pairwise_distances_argmin(X, quantizer_codes)
    counts = np.bincount(labels, minlength=len(quantizer_codes))
    return np.sort(counts)[::-1] / len(X)


def test_history_draws_every_recorded_value(fitted):
    axes = plot_history(fitted)
    assert len(axes) == 6
    for ax, key in zip(axes, ["J", "E", "U", "C", "W", "alignment_weight"]):
        (line,) = ax.get_lines()
        np.testing.assert_allclose(line.get_ydata(), fitted.history_[key])
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 7))


def test_history_on_given_axes_and_a_pipeline(data):
    pipe = make_pipeline(StandardScaler(), WassersteinVQ(8, max_iter=3, random_state=0))
    pipe.fit(data)
    _, given = plt.subplots(1, 2)
    axes = plot_history(pipe, keys=["E", "U"], axes=given)
    assert list(axes) == list(given)
    np.testing.assert_allclose(
        axes[1].get_lines()[0].get_ydata(), pipe[-1].history_["U"]
    )


def test_history_errors(fitted, data):
    with pytest.raises(TypeError, match="no history_"):
        plot_history(KMeans(4, n_init=1).fit(data))
    with pytest.raises(NotFittedError):
        plot_history(WassersteinVQ(4))
    with pytest.raises(ValueError, match="history_ has no"):
        plot_history(fitted, keys=["E", "loss"])
    with pytest.raises(ValueError, match="3 Axes; 2 are needed"):
        plot_history(fitted, keys=["E", "U"], axes=plt.subplots(1, 3)[1])


@pytest.mark.parametrize("which", ["fitted", "collapsed"])
def test_usage_bars_are_each_codes_share_most_used_first(which, data, request):
    quantizer = request.getfixturevalue(which)
    ax = plot_code_usage(quantizer, data)
    (bars,) = ax.containers
    heights = np.array([bar.get_height() for bar in bars])
    expected = _shares(quantizer.cluster_centers_, data)
    np.testing.assert_allclose(heights, expected)
    n_dead = int(np.sum(expected == 0))
    labels = ax.get_legend_handles_labels()[1]
    if n_dead:
        assert f"{n_dead} dead codes" in labels
    else:
        assert not any("dead" in label for label in labels)
    assert ax.get_lines()[0].get_ydata()[0] == pytest.approx(1 / len(expected))


def test_usage_of_a_pipeline_is_measured_in_its_last_steps_space(data):
    pipe = make_pipeline(StandardScaler(), KMeans(6, n_init=1, random_state=0)).fit(
        data
    )
    ax = plot_code_usage(pipe, data)
    heights = [bar.get_height() for bar in ax.containers[0]]
    expected = _shares(pipe[-1].cluster_centers_, pipe[0].transform(data))
    np.testing.assert_allclose(heights, expected)


def test_codebook_on_the_principal_axes_marks_dead_codes(collapsed, data):
    ax = plot_codebook(collapsed, data, max_points=10_000)
    data_points, used, dead = ax.collections
    pca = PCA(n_components=2).fit(data)
    labels = pairwise_distances_argmin(data, collapsed.cluster_centers_)
    is_dead = np.bincount(labels, minlength=10) == 0
    codes = pca.transform(collapsed.cluster_centers_)
    # Principal axes are defined up to sign.
    signs = np.sign(np.sum(data_points.get_offsets() * pca.transform(data), axis=0))
    np.testing.assert_allclose(used.get_offsets() * signs, codes[~is_dead], atol=1e-8)
    np.testing.assert_allclose(dead.get_offsets() * signs, codes[is_dead], atol=1e-8)
    assert ax.get_xlabel().startswith("PC 1")


def test_codebook_in_two_dimensions_is_drawn_as_is(data):
    X = data[:, :2]
    vq = WassersteinVQ(6, max_iter=3, random_state=0).fit(X)
    ax = plot_codebook(vq, X, max_points=100)
    points, codes = ax.collections
    assert len(points.get_offsets()) == 100
    np.testing.assert_allclose(codes.get_offsets(), vq.cluster_centers_)


def test_codebook_and_usage_errors(fitted, data):
    with pytest.raises(ValueError, match="features"):
        plot_codebook(fitted, data[:, :3])
    with pytest.raises(ValueError, match="max_points"):
        plot_codebook(fitted, data, max_points=0)
    with pytest.raises(NotFittedError):
        plot_code_usage(WassersteinVQ(4), data)


def test_comparison_panels_hold_each_methods_scores():
    rows = [
        Row("a", "KMeans", 2.0, 0.5, 10.0, 1.0, 0.3),
        Row("a", "WassersteinVQ", 1.0, 1.0, 60.0, 0.2, 0.4),
        Row("b", "KMeans", 3.0, 0.9, 5.0, 1.0, 0.1),
        Row("b", "WassersteinVQ", 4.0, 1.0, 7.0, 0.2, 0.2),
    ]
    axes = plot_comparison(rows)
    assert axes.shape == (2, 4)
    widths = [
        [[bar.get_width() for bar in ax.containers[0]] for ax in row] for row in axes
    ]
    assert widths[0] == [[2.0, 1.0], [0.5, 1.0], [10.0, 60.0], [0.3, 0.4]]
    assert widths[1] == [[1.0, 4 / 3], [0.9, 1.0], [5.0, 7.0], [0.1, 0.2]]
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_comparison([])
