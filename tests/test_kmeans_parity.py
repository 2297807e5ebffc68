"""Code written for KMeans works on WassersteinVQ: the behaviours a KMeans user relies on.

Each test states one behaviour of ``sklearn.cluster.KMeans`` and holds
``WassersteinVQ`` to it, with KMeans itself or numpy as the reference.
"""

import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning

from skwvq import WassersteinVQ


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 3)) + 5 * rng.integers(0, 3, size=(400, 1))


def first_rows(X, n_clusters, random_state):
    """A callable init with KMeans's signature."""
    return X[:n_clusters] + 0.0


def test_callable_init_is_called_as_kmeans_calls_it(X):
    calls = []

    def init(data, n_clusters, random_state):
        calls.append((data.shape, n_clusters, type(random_state)))
        return first_rows(data, n_clusters, random_state)

    vq = WassersteinVQ(4, init=init, alignment_weight=0.0, max_iter=1, tol=0.0)
    vq.fit(X)
    km = KMeans(4, init=first_rows, n_init=1, max_iter=1, tol=0.0).fit(X)
    assert calls == [((400, 3), 4, np.random.RandomState)]
    np.testing.assert_allclose(vq.cluster_centers_, km.cluster_centers_)


def test_callable_init_of_the_wrong_shape_is_refused_and_changes_nothing(X):
    vq = WassersteinVQ(4, random_state=0).fit(X)
    codebook = vq.codebook_.copy()
    with pytest.raises(ValueError, match=r"callable init has shape \(3, 3\)"):
        vq.set_params(init=lambda X, k, rs: X[:3]).fit(X)
    np.testing.assert_array_equal(vq.codebook_, codebook)


def test_cluster_centers_can_be_assigned_and_predict_follows(X):
    vq = WassersteinVQ(3, random_state=0).fit(X)
    codes = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 5.0], [10.0, 10.0, 10.0]])
    vq.cluster_centers_ = codes
    np.testing.assert_array_equal(vq.codebook_, codes)
    assert vq.cluster_centers_ is vq.codebook_
    expected = ((X[:, None, :] - codes) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(vq.predict(X), expected)
    with pytest.raises(ValueError, match="cluster_centers_ has shape"):
        vq.cluster_centers_ = codes[:2]
    np.testing.assert_array_equal(vq.codebook_, codes)


def test_fewer_distinct_points_than_codes_warn_as_kmeans_does():
    X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    with pytest.warns(ConvergenceWarning, match=r"distinct clusters \(3\)") as ours:
        vq = WassersteinVQ(4, random_state=0).fit(X)
    with pytest.warns(ConvergenceWarning) as theirs:
        KMeans(4, n_init=1, random_state=0).fit(X)
    assert str(ours[0].message) == str(theirs[0].message)
    assert np.unique(vq.labels_).size == 3


def test_no_warning_when_every_code_is_used(X):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        vq = WassersteinVQ(16, random_state=0).fit(X)
    assert np.unique(vq.labels_).size == 16


def test_predict_equals_labels_and_score_equals_minus_inertia(X):
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(X))
    vq = WassersteinVQ(8, random_state=0).fit(X, sample_weight=weights)
    np.testing.assert_array_equal(vq.predict(X), vq.labels_)
    assert vq.score(X, sample_weight=weights) == pytest.approx(-vq.inertia_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_and_fortran_order_changes_nothing(X, dtype):
    data = X.astype(dtype)
    c_order = WassersteinVQ(8, random_state=0).fit(data)
    f_order = WassersteinVQ(8, random_state=0).fit(np.asfortranarray(data))
    assert c_order.codebook_.dtype == dtype
    assert c_order.transform(data).dtype == dtype
    np.testing.assert_allclose(f_order.codebook_, c_order.codebook_, rtol=1e-5)


def test_fit_transform_equals_fit_then_transform(X):
    once = WassersteinVQ(8, random_state=0, encode="distance").fit_transform(X)
    vq = WassersteinVQ(8, random_state=0, encode="distance").fit(X)
    np.testing.assert_allclose(once, vq.transform(X))


def test_integer_weights_equal_repeated_rows_without_alignment(X):
    counts = np.random.default_rng(2).integers(1, 4, len(X))
    init = X[:6] + 0.0
    params = dict(alignment_weight=0.0, init=init, max_iter=10, tol=0.0)
    weighted = WassersteinVQ(6, **params).fit(X, sample_weight=counts)
    repeated = WassersteinVQ(6, **params).fit(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(weighted.codebook_, repeated.codebook_, rtol=1e-10)


def test_default_codebook_has_256_codes_or_one_per_sample(X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vq = WassersteinVQ(random_state=0).fit(X)
    assert vq.n_clusters == "auto" and vq.n_clusters_ == 256
    assert vq.cluster_centers_.shape == (256, 3)
    with pytest.warns(UserWarning, match="only 30 samples: one code per sample"):
        small = WassersteinVQ(random_state=0).fit(X[:30])
    assert small.n_clusters_ == 30
    # One code per distinct sample quantizes it without error.
    assert small.inertia_ == pytest.approx(0.0, abs=1e-12)
    assert small.transform(X[:5]).shape == (5, 3)
    with pytest.raises(ValueError, match="n_samples=30 should be >= n_clusters=256"):
        WassersteinVQ(256).fit(X[:30])


def test_warm_start_goes_on_where_init_realigns(X):
    first = WassersteinVQ(8, tol=0.0, warm_start=True, random_state=0).fit(X)
    codebook, n_iter = first.codebook_.copy(), first.n_iter_
    # Unfitted, warm_start changes nothing: the first fit starts from init.
    cold = WassersteinVQ(8, tol=0.0, random_state=0).fit(X)
    np.testing.assert_array_equal(cold.codebook_, codebook)
    warm = first.fit(X)
    # g goes on from where the first fit left it; this fit had settled on a
    # Lloyd fixed point, where the refit leaves it.
    assert warm.history_["alignment_weight"][0] == pytest.approx(0.05 * 0.8**n_iter)
    np.testing.assert_allclose(warm.codebook_, codebook, rtol=1e-12, atol=1e-12)
    # An init array restarts the schedule at alignment_weight.
    restarted = WassersteinVQ(8, init=codebook, tol=0.0, random_state=0).fit(X)
    assert restarted.history_["alignment_weight"][0] == 0.05


def test_a_stream_batch_leaves_the_fits_schedule_where_it_was(X):
    first = WassersteinVQ(8, tol=0.0, warm_start=True, random_state=0).fit(X)
    n_iter = first.n_iter_
    first.partial_fit(X[:100])
    warm = first.fit(X)
    assert warm.history_["alignment_weight"][0] == pytest.approx(0.05 * 0.8**n_iter)


def test_the_duplicate_points_warning_comes_after_the_fit(X):
    duplicated = np.repeat(X[:3], 10, axis=0)
    vq = WassersteinVQ(4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        with pytest.raises(ConvergenceWarning, match="distinct clusters"):
            vq.fit(duplicated)
    # As KMeans: the warning (even raised as an error) leaves the fit in place.
    assert vq.codebook_.shape == (4, 3) and vq.labels_.shape == (30,)


def test_warm_start_on_other_features_is_refused_and_changes_nothing(X):
    vq = WassersteinVQ(8, warm_start=True, random_state=0).fit(X)
    codebook = vq.codebook_.copy()
    with pytest.raises(ValueError, match="warm_start=True continues from the fitted"):
        vq.fit(X[:, :2])
    np.testing.assert_array_equal(vq.codebook_, codebook)
    assert vq.n_features_in_ == 3
