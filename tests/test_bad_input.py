"""Bad input gets a clear error and leaves a fitted estimator as it was, on every backend.

The bad inputs are made from numpy arrays and handed to the estimator as the
backend's native arrays (``backend.asarray``: tensors on its device for torch),
sample weights too.
"""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skwvq import WassersteinVQ

# torch warns that sparse CSR tensors (a sparse X) are in beta.
pytestmark = pytest.mark.filterwarnings("ignore:Sparse:UserWarning")


@pytest.fixture
def fitted(blobs, backend):
    vq = WassersteinVQ(8, random_state=0, max_iter=5, **backend.params)
    return vq.fit(backend.asarray(blobs))


def snapshot(estimator):
    """A deep copy of the estimator's attributes (the partial_fit stream by identity)."""
    state = dict(vars(estimator))
    stream = state.pop("_stream", None)
    state = copy.deepcopy(state)
    if stream is not None:
        state["_stream"] = stream
    return state


def assert_unchanged(estimator, before):
    after = vars(estimator)
    assert after.keys() == before.keys()
    for key, value in before.items():
        if key == "_stream":
            assert after[key] is value
        elif isinstance(value, dict):
            assert after[key].keys() == value.keys(), key
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


# The messages of numpy's validation (sklearn's check_array) and of the
# tensor validation differ in wording; each must name what is wrong.
NAN = (with_nan, None, ValueError, "NaN")
INF = (with_inf, None, ValueError, "infinity")
ONE_D = (lambda X: X[:, 0], None, ValueError, "Expected (a )?2D (array|tensor)")
THREE_D = (lambda X: X[:, :, None], None, ValueError, "dim 3|3D tensor")
# Sparse X is valid on the numpy backend (tests/test_sparse.py), refused by
# torch's; with a NaN it is bad on both.
SPARSE = (
    lambda X: sp.csr_matrix(with_nan(X)),
    None,
    (TypeError, ValueError),
    "[Ss]parse|NaN",
)
NEGATIVE_WEIGHT = (None, "negative", ValueError, "Negative values")
ZERO_WEIGHTS = (None, "zeros", ValueError, "non-zero")
SHORT_WEIGHTS = (None, "short", ValueError, "sample_weight.shape")
BAD_FIT_INPUTS = [
    NAN,
    INF,
    ONE_D,
    THREE_D,
    (lambda X: X[:5], None, ValueError, "n_samples=5 should be >= n_clusters=8"),
    SPARSE,
    NEGATIVE_WEIGHT,
    ZERO_WEIGHTS,
    (None, "few", ValueError, "positive sample_weight"),
    SHORT_WEIGHTS,
]
# A fitted stream needs no n_clusters rows (nor weights) per batch.
BAD_PARTIAL_FIT_INPUTS = [
    NAN,
    INF,
    ONE_D,
    THREE_D,
    SPARSE,
    NEGATIVE_WEIGHT,
    ZERO_WEIGHTS,
    SHORT_WEIGHTS,
]
IDS = ["nan", "inf", "1d", "3d", "too-few-rows", "sparse", "negative-weight"]
IDS += ["zero-weights", "few-weights", "short-weights"]
PARTIAL_FIT_IDS = ["nan", "inf", "1d", "3d", "sparse", "negative-weight"]
PARTIAL_FIT_IDS += ["zero-weights", "short-weights"]


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


def bad_arguments(backend, X, make_X, weights):
    """X and fit keywords for one bad input, as the backend's native arrays."""
    kwargs = {}
    if weights is not None:
        kwargs["sample_weight"] = backend.asarray(make_weights(weights, len(X)))
    return backend.asarray(X if make_X is None else make_X(X)), kwargs


@pytest.mark.parametrize("make_X, weights, error, message", BAD_FIT_INPUTS, ids=IDS)
def test_bad_fit_input_is_refused_and_changes_nothing(
    fitted, blobs, backend, make_X, weights, error, message
):
    before = snapshot(fitted)
    X, kwargs = bad_arguments(backend, blobs, make_X, weights)
    with pytest.raises(error, match=message):
        fitted.fit(X, **kwargs)
    assert_unchanged(fitted, before)


def stream_pair(blobs, backend):
    """Two estimators fed the same two partial_fit batches."""
    pair = [WassersteinVQ(8, random_state=0, **backend.params) for _ in range(2)]
    for vq in pair:
        for batch in (blobs[:300], blobs[300:600]):
            vq.partial_fit(backend.asarray(batch))
    return pair


def assert_streams_agree(vq, twin, blobs, backend):
    """The next batch takes both to the same place: neither stream was disturbed."""
    for estimator in (vq, twin):
        estimator.partial_fit(backend.asarray(blobs[600:900]))
    atol = backend.rerun_atol
    np.testing.assert_allclose(vq.codebook_, twin.codebook_, rtol=0, atol=atol)
    assert vq.n_iter_ == twin.n_iter_ == 3
    for key, values in twin.history_.items():
        np.testing.assert_allclose(vq.history_[key], values, rtol=0, atol=atol)


@pytest.mark.parametrize(
    "make_X, weights, error, message", BAD_PARTIAL_FIT_INPUTS, ids=PARTIAL_FIT_IDS
)
def test_bad_partial_fit_input_is_refused_and_changes_nothing(
    blobs, backend, make_X, weights, error, message
):
    vq, twin = stream_pair(blobs, backend)
    before = snapshot(vq)
    X, kwargs = bad_arguments(backend, blobs[600:900], make_X, weights)
    with pytest.raises(error, match=message):
        vq.partial_fit(X, **kwargs)
    assert_unchanged(vq, before)
    assert_streams_agree(vq, twin, blobs, backend)


def test_failed_partial_fit_step_leaves_the_stream_as_it_was(
    blobs, backend, monkeypatch
):
    vq, twin = stream_pair(blobs, backend)
    before = snapshot(vq)

    def broken_update(*args, **kwargs):
        raise RuntimeError("update failed")

    with monkeypatch.context() as patch:
        # Fails after the batch was assigned and joined the stream's data side.
        patch.setattr("skwvq._solver.update_codebook", broken_update)
        with pytest.raises(RuntimeError, match="update failed"):
            vq.partial_fit(backend.asarray(blobs[600:900]))
    assert_unchanged(vq, before)
    assert_streams_agree(vq, twin, blobs, backend)


def test_feature_names_are_restored_after_a_failed_fit(blobs, backend):
    pd = pytest.importorskip("pandas")
    vq = WassersteinVQ(8, random_state=0, max_iter=3, **backend.params).fit(
        pd.DataFrame(blobs, columns=list("abcd"))
    )
    before = snapshot(vq)
    with pytest.raises(ValueError, match="NaN"):
        vq.fit(pd.DataFrame(with_nan(blobs), columns=list("wxyz")))
    assert_unchanged(vq, before)


@pytest.mark.parametrize("method", ["predict", "transform", "score", "partial_fit"])
def test_feature_count_mismatch_at_inference(fitted, blobs, backend, method):
    before = snapshot(fitted)
    with pytest.raises(
        ValueError, match="X has 3 features, but WassersteinVQ is expecting 4"
    ):
        getattr(fitted, method)(backend.asarray(blobs[:, :3]))
    assert_unchanged(fitted, before)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_nan_at_inference(fitted, blobs, backend, method):
    before = snapshot(fitted)
    with pytest.raises(ValueError, match="NaN"):
        getattr(fitted, method)(backend.asarray(with_nan(blobs)))
    assert_unchanged(fitted, before)


@pytest.mark.parametrize("method", ["predict", "transform", "score"])
def test_unfitted_estimator_says_so(blobs, backend, method):
    with pytest.raises(NotFittedError):
        getattr(WassersteinVQ(8, **backend.params), method)(backend.asarray(blobs))


def test_exact_alignment_too_large_points_to_sliced(blobs, backend):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 2))
    vq = WassersteinVQ(8, random_state=0, max_iter=3, **backend.params)
    vq.fit(backend.asarray(blobs))
    before = snapshot(vq)
    vq.set_params(alignment="exact", n_clusters=5000)
    with pytest.raises(ValueError, match="alignment='sliced'"):
        vq.fit(backend.asarray(X))
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
def test_invalid_parameters(blobs, backend, params, message):
    with pytest.raises(InvalidParameterError, match=message):
        WassersteinVQ(**{"n_clusters": 8, **backend.params, **params}).fit(
            backend.asarray(blobs)
        )


def test_init_array_of_wrong_shape(blobs, backend):
    X = backend.asarray(blobs)
    with pytest.raises(ValueError, match=r"init array has shape \(7, 4\)"):
        WassersteinVQ(8, init=backend.asarray(blobs[:7]), **backend.params).fit(X)
    with pytest.raises(ValueError, match="NaN"):
        WassersteinVQ(
            8, init=backend.asarray(with_nan(blobs[:8])), **backend.params
        ).fit(X)


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
def test_degenerate_data_gives_finite_codes(name, alignment, target, init, backend):
    X = degenerate_data()[name]
    vq = WassersteinVQ(
        10,
        alignment=alignment,
        target=target,
        init=init,
        max_iter=10,
        random_state=0,
        **backend.params,
    )
    vq.fit(backend.asarray(X))
    assert np.all(np.isfinite(vq.codebook_))
    assert np.all(np.isfinite(vq.history_["J"]))
    assert np.all(np.isfinite(backend.to_numpy(vq.transform(backend.asarray(X)))))
