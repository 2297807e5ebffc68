"""Bad input gets a clear error and leaves a fitted estimator as it was."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from skwvq import WassersteinVQ


@pytest.fixture
def fitted(blobs):
    return WassersteinVQ(8, random_state=0, max_iter=5).fit(blobs)


def snapshot(estimator):
    return copy.deepcopy(vars(estimator))


def assert_unchanged(estimator, before):
    after = vars(estimator)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if isinstance(value, dict):
            for name in value:
                np.testing.assert_array_equal(after[key][name], value[name])
        elif isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[key], value)
        else:
            assert after[key] == value, key


def with_nan(X):
    X = X.copy()
    X[3, 1] = np.nan
    return X


def with_inf(X):
    X = X.copy()
    X[7, 0] = np.inf
    return X


BAD_FIT_INPUTS = [
    (with_nan, {}, ValueError, "NaN"),
    (with_inf, {}, ValueError, "infinity"),
    (lambda X: X[:, 0], {}, ValueError, "Expected 2D array"),
    (lambda X: X[:, :, None], {}, ValueError, "dim 3"),
    (lambda X: X[:5], {}, ValueError, "n_samples=5 should be >= n_clusters=8"),
    (lambda X: sp.csr_matrix(X), {}, TypeError, "[Ss]parse"),
    (lambda X: X, {"sample_weight": "negative"}, ValueError, "Negative values"),
    (lambda X: X, {"sample_weight": "zeros"}, ValueError, "non-zero"),
    (lambda X: X, {"sample_weight": "few"}, ValueError, "positive sample_weight"),
    (lambda X: X, {"sample_weight": "short"}, ValueError, "sample_weight.shape"),
]


def make_weights(kind, n_samples):
    weights = np.ones(n_samples)
    if kind == "negative":
        weights[0] = -1.0
    elif kind == "zeros":
        weights[:] = 0.0
    elif kind == "few":
        weights[3:] = 0.0
    elif kind == "short":
        weights = weights[:-1]
    return weights


@pytest.mark.parametrize("make_X, kwargs, error, message", BAD_FIT_INPUTS)
def test_bad_fit_input_is_refused_and_changes_nothing(
    fitted, blobs, make_X, kwargs, error, message
):
    before = snapshot(fitted)
    fit_kwargs = {}
    if "sample_weight" in kwargs:
        fit_kwargs["sample_weight"] = make_weights(kwargs["sample_weight"], len(blobs))
    with pytest.raises(error, match=message):
        fitted.fit(make_X(blobs), **fit_kwargs)
    assert_unchanged(fitted, before)


def test_feature_names_are_restored_after_a_failed_fit(blobs):
    pd = pytest.importorskip("pandas")
    vq = WassersteinVQ(8, random_state=0, max_iter=3).fit(
        pd.DataFrame(blobs, columns=list("abcd"))
    )
    before = snapshot(vq)
    with pytest.raises(ValueError, match="NaN"):
        vq.fit(pd.DataFrame(with_nan(blobs), columns=list("wxyz")))
    assert_unchanged(vq, before)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_feature_count_mismatch_at_inference(fitted, blobs, method):
    before = snapshot(fitted)
    with pytest.raises(
        ValueError, match="X has 3 features, but WassersteinVQ is expecting 4"
    ):
        getattr(fitted, method)(blobs[:, :3])
    assert_unchanged(fitted, before)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_nan_at_inference(fitted, blobs, method):
    with pytest.raises(ValueError, match="NaN"):
        getattr(fitted, method)(with_nan(blobs))


def test_unfitted_estimator_says_so(blobs):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        WassersteinVQ(8).predict(blobs)


def test_exact_alignment_too_large_points_to_sliced(blobs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 2))
    vq = WassersteinVQ(8, random_state=0, max_iter=3).fit(blobs)
    before = snapshot(vq)
    vq.set_params(alignment="exact", n_clusters=5000)
    with pytest.raises(ValueError, match="alignment='sliced'"):
        vq.fit(X)
    vq.set_params(alignment="sliced", n_clusters=8)
    assert_unchanged(vq, before)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alignment": "wasserstein"}, "alignment"),
        ({"alignment_weight": 1.5}, "alignment_weight"),
        ({"alignment_decay": 0.0}, "alignment_decay"),
        ({"n_clusters": 0}, "n_clusters"),
        ({"target": "uniform"}, "target"),
        ({"init": "k-means"}, "init"),
        ({"encode": "binary"}, "encode"),
    ],
)
def test_invalid_parameters(blobs, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        WassersteinVQ(**{"n_clusters": 8, **params}).fit(blobs)


def test_init_array_of_wrong_shape(blobs):
    with pytest.raises(ValueError, match=r"init array has shape \(7, 4\)"):
        WassersteinVQ(8, init=blobs[:7]).fit(blobs)
    with pytest.raises(ValueError, match="NaN"):
        WassersteinVQ(8, init=with_nan(blobs[:8])).fit(blobs)


def degenerate_data():
    rng = np.random.default_rng(0)
    constant = np.full((100, 3), 2.5)
    duplicated = np.repeat(rng.normal(size=(4, 3)), 25, axis=0)
    rank_deficient = rng.normal(size=(200, 2)) @ rng.normal(size=(2, 5))
    one_feature_constant = np.column_stack([rng.normal(size=100), np.zeros(100)])
    return {
        "constant": constant,
        "duplicated": duplicated,
        "rank_deficient": rank_deficient,
        "one_feature_constant": one_feature_constant,
    }


@pytest.mark.parametrize("name", list(degenerate_data()))
@pytest.mark.parametrize("alignment", ["gaussian", "sliced", "exact"])
@pytest.mark.parametrize("target", ["data", "quantization-optimal"])
@pytest.mark.parametrize("init", ["random", "gaussian", "k-means++"])
def test_degenerate_data_gives_finite_codes(name, alignment, target, init):
    X = degenerate_data()[name]
    vq = WassersteinVQ(
        10, alignment=alignment, target=target, init=init, max_iter=10, random_state=0
    )
    vq.fit(X)
    assert np.all(np.isfinite(vq.codebook_))
    assert np.all(np.isfinite(vq.history_["J"]))
    assert np.all(np.isfinite(vq.transform(X)))
