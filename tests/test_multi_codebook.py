"""The residual and product quantizers: their codes contract, the beam search and refinement against brute force, every level kept alive, and bad input refused."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from skwvq import (
    ProductWassersteinVQ,
    ResidualWassersteinVQ,
    WassersteinVQ,
    perplexity_per_level,
    utilization_per_level,
)
from skwvq._codes import beam_encode, cross_tables
from skwvq._refine import refine_codebooks
from skwvq.backends import backend_of
from skwvq.metrics import get_scorer, vq_scores

QUANTIZERS = (ResidualWassersteinVQ, ProductWassersteinVQ)
# The check KMeans also fails (see test_sklearn_checks): a random start drawn
# from repeated rows differs from one drawn from weighted rows.
EXPECTED_FAILURES = {
    f"check_sample_weight_equivalence_on_{kind}_data": (
        "the random initial codebooks are drawn from different rows."
    )
    for kind in ("dense", "sparse")
}


def small(cls, **params):
    """A quantizer of a few small codebooks that fits in milliseconds."""
    return cls(**{"n_clusters": 4, "n_codebooks": 2, "max_iter": 5, **params})


@parametrize_with_checks(
    [
        small(ResidualWassersteinVQ),
        small(ResidualWassersteinVQ, beam_size=1, n_refine=0, alignment="sliced"),
        small(ProductWassersteinVQ, n_codebooks=1),
        small(ProductWassersteinVQ, n_codebooks=1, rotation=True),
    ],
    expected_failed_checks=lambda _: EXPECTED_FAILURES,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def reconstruct(quantizer, codes):
    """The reconstruction computed here from the fitted codebooks, independently of ``_decode``."""
    codes = np.asarray(codes).astype(np.int64)
    if isinstance(quantizer, ResidualWassersteinVQ):
        return sum(quantizer.codebooks_[m][codes[:, m]] for m in range(codes.shape[1]))
    parts = [quantizer.codebooks_[m][codes[:, m]] for m in range(codes.shape[1])]
    rows = np.hstack(parts)
    return rows if quantizer.rotation_ is None else rows @ quantizer.rotation_.T


@pytest.fixture
def correlated():
    """Rows whose features are correlated across any slice: 12-d, rank-6 plus noise, float32."""
    rng = np.random.default_rng(0)
    latent = rng.normal(size=(3000, 6)) * np.linspace(3.0, 1.0, 6)
    mixing = np.linalg.qr(rng.normal(size=(12, 12)))[0][:6]
    return (latent @ mixing + 0.1 * rng.normal(size=(3000, 12))).astype(np.float32)


# -- the codes contract, on every backend --------------------------------------
@pytest.mark.parametrize("cls", QUANTIZERS)
def test_codes_contract(cls, backend, correlated):
    X = correlated
    quantizer = small(
        cls, n_clusters=8, n_codebooks=3, random_state=0, **backend.params
    )
    codes = backend.to_numpy(
        quantizer.fit(backend.asarray(X)).transform(backend.asarray(X))
    )
    assert codes.shape == (len(X), 3) and codes.dtype == np.uint8
    reconstruction = backend.to_numpy(
        quantizer.inverse_transform(backend.asarray(codes))
    )
    assert reconstruction.dtype == np.float32
    np.testing.assert_allclose(reconstruction, reconstruct(quantizer, codes), rtol=1e-6)
    error = np.mean(np.sum((X - reconstruction) ** 2, axis=1))
    assert quantizer.score(backend.asarray(X)) == pytest.approx(-error, rel=1e-4)
    assert error < 0.5 * np.var(X, axis=0).sum()
    assert len(quantizer.history_) == 3
    assert quantizer.n_iter_ == sum(len(h["E"]) for h in quantizer.history_)
    assert all(isinstance(level, WassersteinVQ) for level in quantizer.estimators_)
    for level, codebook in zip(quantizer.estimators_, quantizer.codebooks_):
        np.testing.assert_array_equal(level.codebook_, codebook)
    backend.assert_fitted_here(quantizer.estimators_[0])


@pytest.mark.parametrize("cls", QUANTIZERS)
@pytest.mark.parametrize("n_clusters, dtype", [(256, np.uint8), (257, np.uint16)])
def test_code_dtype_holds_every_index(cls, n_clusters, dtype):
    X = np.random.default_rng(0).normal(size=(600, 4))
    quantizer = cls(n_clusters, n_codebooks=2, max_iter=2, random_state=0).fit(X)
    codes = quantizer.transform(X)
    assert codes.dtype == dtype
    assert codes.max() >= 200  # the indices span the codebook, not wrapped


@pytest.mark.parametrize("cls", QUANTIZERS)
def test_codes_of_subsets_and_fit_transform(cls, correlated):
    quantizer = small(cls, random_state=0)
    codes = quantizer.fit_transform(correlated)
    np.testing.assert_array_equal(
        codes[100:200], quantizer.transform(correlated[100:200])
    )
    np.testing.assert_array_equal(
        codes, small(cls, random_state=0).fit(correlated).transform(correlated)
    )


# -- beam search and refinement against brute force ----------------------------
@pytest.mark.parametrize("tables", [True, False])
def test_wide_beam_is_exhaustive_search(tables, monkeypatch):
    import skwvq._codes

    if not tables:  # each beam entry's residual multiplied, as for large codebooks
        monkeypatch.setattr(skwvq._codes, "_TABLE_MAX_ENTRIES", 0)
    rng = np.random.default_rng(1)
    X, codebooks = rng.normal(size=(200, 5)), rng.normal(size=(3, 4, 5))
    every = np.array(list(itertools.product(range(4), repeat=3)))
    sums = sum(codebooks[m][every[:, m]] for m in range(3))
    best = ((X[:, None] - sums[None]) ** 2).sum(-1).min(axis=1)
    nx = backend_of()
    assert (cross_tables(nx, codebooks) is None) != tables
    codes, errors = beam_encode(nx, X, codebooks, 16)
    np.testing.assert_allclose(errors, best, atol=1e-9)
    chosen = sum(codebooks[m][codes[:, m]] for m in range(3))
    np.testing.assert_allclose(((X - chosen) ** 2).sum(1), best, atol=1e-9)
    greedy, greedy_errors = beam_encode(nx, X, codebooks, 1)
    assert np.mean(greedy_errors) > np.mean(best)  # so the beam matters here


def test_beam_search_on_torch_matches_numpy():
    torch = pytest.importorskip("torch")
    from skwvq.backends import torch_backend

    rng = np.random.default_rng(2)
    X, codebooks = rng.normal(size=(300, 6)), rng.normal(size=(4, 8, 6))
    codes, errors = beam_encode(backend_of(), X, codebooks, 3)
    nx = torch_backend("cpu")
    codes_t, errors_t = beam_encode(nx, torch.tensor(X), torch.tensor(codebooks), 3)
    np.testing.assert_array_equal(codes_t.numpy(), codes)
    np.testing.assert_allclose(errors_t.numpy(), errors, rtol=1e-10)


@pytest.mark.parametrize("dense", [True, False])
def test_refinement_is_least_squares(dense, monkeypatch):
    import skwvq._refine as refine

    if not dense:
        monkeypatch.setattr(refine, "_DENSE_MAX_CODES", 0)
        monkeypatch.setattr(refine, "_SWEEPS", 200)
    rng = np.random.default_rng(3)
    X, codes = rng.normal(size=(400, 5)), rng.integers(0, 6, size=(400, 3))
    weights = rng.uniform(0.5, 2.0, size=400)
    design = np.zeros((400, 18))
    for m in range(3):
        design[np.arange(400), 6 * m + codes[:, m]] = 1.0
    root = np.sqrt(weights)[:, None]
    solution = np.linalg.lstsq(root * design, root * X, rcond=None)[0]
    best = np.sum(weights[:, None] * (X - design @ solution) ** 2)
    refined = refine_codebooks(X, codes, rng.normal(size=(3, 6, 5)), weights)
    fitted = sum(refined[m][codes[:, m]] for m in range(3))
    assert np.sum(weights[:, None] * (X - fitted) ** 2) == pytest.approx(best, rel=1e-6)


def test_refinement_keeps_unused_codes_in_place():
    rng = np.random.default_rng(4)
    X, codes = rng.normal(size=(100, 2)), np.zeros((100, 2), dtype=int)
    start = rng.normal(size=(2, 3, 2))
    refined = refine_codebooks(X, codes, start)
    np.testing.assert_allclose(refined[:, 1:], start[:, 1:], atol=1e-6)


# -- every level alive on held-out rows -------------------------------------------
def heavy_tailed(n_samples, seed):
    """Rows of a 24-d Student-t mixture: deep residuals with outliers, as real features have."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).normal(scale=3.0, size=(6, 24))
    return centres[rng.integers(6, size=n_samples)] + rng.standard_t(
        3, size=(n_samples, 24)
    )


def test_every_residual_level_is_used_on_held_out_rows():
    train, test = heavy_tailed(4000, 0), heavy_tailed(4000, 1)
    rq = ResidualWassersteinVQ(32, n_codebooks=4, random_state=0).fit(train)
    usage = utilization_per_level(rq.transform(test), 32)
    # Greedy residual KMeans, the baseline whose deep levels die on new rows.
    residual, test_residual, kmeans_usage = train, test, []
    for level in range(4):
        km = KMeans(32, n_init=1, random_state=level).fit(residual)
        kmeans_usage.append(np.unique(km.predict(test_residual)).size / 32)
        residual = residual - km.cluster_centers_[km.predict(residual)]
        test_residual = test_residual - km.cluster_centers_[km.predict(test_residual)]
    assert usage.min() >= 0.95, usage
    assert min(kmeans_usage) < usage.min(), kmeans_usage


# -- the product quantizer --------------------------------------------------------
def test_uneven_slices_cover_every_feature():
    X = np.random.default_rng(0).normal(size=(500, 11))
    pq = small(ProductWassersteinVQ, n_codebooks=3, random_state=0).fit(X)
    widths = [s.stop - s.start for s in pq.feature_slices_]
    assert widths == [4, 4, 3] and [c.shape[1] for c in pq.codebooks_] == widths
    assert pq.feature_slices_[0].start == 0 and pq.feature_slices_[-1].stop == 11


def test_rotation_is_orthogonal_and_helps_correlated_features(correlated):
    params = dict(n_clusters=16, n_codebooks=3, random_state=0)
    plain = ProductWassersteinVQ(**params).fit(correlated)
    rotated = ProductWassersteinVQ(rotation=True, **params).fit(correlated)
    R = rotated.rotation_
    np.testing.assert_allclose(R.T @ R, np.eye(12), atol=1e-5)
    assert plain.rotation_ is None
    assert rotated.score(correlated) > plain.score(correlated)


def test_product_keeps_sparse_rows_sparse():
    X = sp.random(800, 30, density=0.2, random_state=0, format="csr")
    pq = small(ProductWassersteinVQ, n_clusters=8, n_codebooks=3, random_state=0).fit(X)
    np.testing.assert_array_equal(pq.transform(X), pq.transform(X.toarray()))
    assert pq.score(X) == pytest.approx(pq.score(X.toarray()))


# -- input kinds ------------------------------------------------------------------
@pytest.mark.parametrize("cls", QUANTIZERS)
def test_dask_input_is_fitted_and_encoded_lazily(cls, correlated):
    da = pytest.importorskip("dask.array")
    X = da.from_array(correlated, chunks=(700, 12))
    quantizer = small(cls, random_state=0).fit(X)
    codes = quantizer.transform(X)
    assert isinstance(codes, da.Array)
    np.testing.assert_array_equal(codes.compute(), quantizer.transform(correlated))
    decoded = quantizer.inverse_transform(codes)
    assert isinstance(decoded, da.Array)
    np.testing.assert_allclose(
        decoded.compute(), reconstruct(quantizer, codes.compute()), rtol=1e-6
    )
    assert quantizer.score(X) == pytest.approx(quantizer.score(correlated), rel=1e-6)


@pytest.mark.parametrize("cls", QUANTIZERS)
def test_memmap_with_mini_batches(cls, correlated, tmp_path):
    path = tmp_path / "rows.f32"
    correlated.tofile(path)
    X = np.memmap(path, dtype=np.float32, mode="r", shape=correlated.shape)
    quantizer = small(cls, batch_size=500, random_state=0).fit(X)
    assert quantizer.score(correlated) > -0.6 * np.var(correlated, axis=0).sum()
    assert all(level.batch_size == 500 for level in quantizer.estimators_)


@pytest.mark.parametrize("cls", QUANTIZERS)
def test_partial_fit_follows_a_stream(cls, correlated):
    quantizer = small(cls, n_clusters=8, random_state=0)
    for batch in np.array_split(correlated, 6):
        quantizer.partial_fit(batch)
    assert all(level.n_steps_ == 6 for level in quantizer.estimators_)
    assert quantizer.score(correlated) > -0.5 * np.var(correlated, axis=0).sum()
    assert utilization_per_level(quantizer.transform(correlated), 8).min() == 1.0


def test_residual_refuses_sparse_naming_the_alternatives():
    X = sp.random(100, 10, density=0.3, random_state=0, format="csr")
    with pytest.raises(TypeError, match="toarray.*ProductWassersteinVQ"):
        small(ResidualWassersteinVQ).fit(X)


# -- bad input --------------------------------------------------------------------
@pytest.mark.parametrize("cls", QUANTIZERS)
def test_bad_parameters_are_refused(cls):
    X = np.random.default_rng(0).normal(size=(100, 4))
    with pytest.raises(InvalidParameterError, match="n_codebooks"):
        cls(n_codebooks=0).fit(X)
    with pytest.raises(ValueError, match="uint16"):
        cls(n_clusters=65537, n_codebooks=1).fit(X)
    with pytest.raises(InvalidParameterError, match="init"):
        cls(init=np.zeros((4, 4))).fit(X)


@pytest.mark.parametrize("cls", QUANTIZERS)
@pytest.mark.parametrize(
    "codes, message",
    [
        (np.zeros((3, 3), dtype=np.uint8), "3 columns"),
        (np.full((3, 2), 0.5), "integers"),
        (np.full((3, 2), 4), r"\[0, 4\)"),
        (np.full((3, 2), -1), r"\[0, 4\)"),
    ],
)
def test_bad_codes_are_refused(cls, codes, message, correlated):
    quantizer = small(cls, random_state=0).fit(correlated)
    with pytest.raises(ValueError, match=message):
        quantizer.inverse_transform(codes)


@pytest.mark.parametrize("cls", QUANTIZERS)
def test_a_failed_fit_leaves_the_fitted_quantizer_unchanged(cls, correlated):
    quantizer = small(cls, random_state=0).fit(correlated)
    before = [np.array(c, copy=True) for c in quantizer.codebooks_]
    levels = quantizer.estimators_
    bad = correlated.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        quantizer.fit(bad)
    with pytest.raises(ValueError, match="features"):
        quantizer.partial_fit(correlated[:, :5])
    with pytest.raises(ValueError, match="n_samples=3"):
        type(quantizer)(**quantizer.get_params()).fit(correlated[:3])
    assert quantizer.estimators_ is levels
    for kept, was in zip(quantizer.codebooks_, before):
        np.testing.assert_array_equal(kept, was)
    with pytest.raises(ValueError, match="features"):
        quantizer.transform(correlated[:, :5])


# -- metrics and scorers ----------------------------------------------------------
def test_per_level_metrics_against_counts():
    codes = np.array([[0, 3], [0, 3], [1, 3], [2, 0]])
    np.testing.assert_allclose(utilization_per_level(codes, 4), [0.75, 0.5])
    p = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(
        perplexity_per_level(codes, 4),
        [
            np.exp(-(p * np.log(p)).sum()),
            np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))),
        ],
    )
    np.testing.assert_allclose(utilization_per_level(np.array([0, 1, 1]), 4), [0.5])


def test_scorers_judge_the_worst_level(correlated):
    rq = small(ResidualWassersteinVQ, n_clusters=8, n_codebooks=3, random_state=0).fit(
        correlated
    )
    codes = rq.transform(correlated)
    assert (
        get_scorer("utilization")(rq, correlated)
        == utilization_per_level(codes, 8).min()
    )
    assert get_scorer("perplexity")(rq, correlated) == pytest.approx(
        perplexity_per_level(codes, 8).min()
    )
    error = np.mean(np.sum((correlated - reconstruct(rq, codes)) ** 2, axis=1))
    assert get_scorer("neg_quantization_error")(rq, correlated) == pytest.approx(
        -error, rel=1e-5
    )


def test_rate_distortion_search():
    X = np.random.default_rng(0).normal(size=(600, 6))
    grid = {"n_codebooks": [1, 3], "n_clusters": [4, 16]}
    search = GridSearchCV(
        small(ResidualWassersteinVQ, random_state=0),
        grid,
        scoring=vq_scores,
        refit=False,
        cv=2,
    )
    results = search.fit(X).cv_results_
    errors = dict(
        zip(
            map(lambda p: (p["n_codebooks"], p["n_clusters"]), results["params"]),
            -results["mean_test_neg_quantization_error"],
        )
    )
    assert errors[(3, 16)] < errors[(1, 16)] < errors[(1, 4)]
    assert errors[(3, 4)] < errors[(1, 4)]


@pytest.mark.parametrize("cls", QUANTIZERS)
def test_codes_as_a_pandas_frame(cls, correlated):
    pd = pytest.importorskip("pandas")
    quantizer = small(cls, random_state=0).set_output(transform="pandas")
    frame = quantizer.fit(correlated).transform(pd.DataFrame(correlated))
    prefix = cls.__name__.lower()
    assert list(frame.columns) == [f"{prefix}0", f"{prefix}1"]
    np.testing.assert_array_equal(
        frame.to_numpy(),
        quantizer.set_output(transform="default").transform(correlated),
    )
