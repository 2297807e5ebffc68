"""scikit-learn's own estimator checks, for every alignment method and encoding."""

import importlib.util

import pytest
from sklearn.utils.estimator_checks import (
    check_global_output_transform_pandas,
    check_set_output_transform,
    check_set_output_transform_pandas,
    parametrize_with_checks,
)

from skwvq import WassersteinVQ

# The one check that sklearn also marks as an expected failure for KMeans and
# MiniBatchKMeans: a random initial draw from repeated rows differs from the draw
# from weighted rows, so weights cannot equal repetition sample for sample.
EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples: "
        "the random initial codebook is drawn from different rows."
    ),
    "check_sample_weight_equivalence_on_sparse_data": (
        "sample_weight is not equivalent to removing/repeating samples: "
        "the random initial codebook is drawn from different rows."
    ),
}

ESTIMATORS = (
    [
        # The defaults: n_clusters="auto" takes one code per sample on the checks'
        # data sets of 1 to 100 rows.
        WassersteinVQ(),
    ]
    + [
        WassersteinVQ(n_clusters=2, max_iter=5, alignment=alignment, encode=encode)
        for alignment in ("sliced", "gaussian", "exact")
        for encode in ("quantized", "distance")
    ]
    + [
        WassersteinVQ(n_clusters=2, max_iter=5, encode="ordinal"),
        WassersteinVQ(n_clusters=2, max_iter=5, encode="onehot"),
    ]
)
# The torch backend (torch's CPU build in CI) passes the same checks: numpy in,
# numpy out, computed through torch.
if importlib.util.find_spec("torch") is not None:
    ESTIMATORS += [
        WassersteinVQ(
            n_clusters=2, max_iter=5, alignment=alignment, backend="torch", device="cpu"
        )
        for alignment in ("sliced", "gaussian", "exact")
    ]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda _: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_expected_failures_are_those_sklearn_marks_for_kmeans():
    instance_generator = pytest.importorskip(
        "sklearn.utils._test_common.instance_generator"
    )
    from sklearn.cluster import KMeans

    kmeans_failures = instance_generator.PER_ESTIMATOR_XFAIL_CHECKS[KMeans]
    assert set(EXPECTED_FAILURES) <= set(kmeans_failures)


@pytest.mark.parametrize(
    "check",
    [
        check_set_output_transform,
        check_set_output_transform_pandas,
        check_global_output_transform_pandas,
    ],
)
@pytest.mark.parametrize("encode", ["quantized", "distance", "ordinal"])
def test_set_output(check, encode):
    pytest.importorskip("pandas")
    check("WassersteinVQ", WassersteinVQ(n_clusters=2, max_iter=5, encode=encode))
