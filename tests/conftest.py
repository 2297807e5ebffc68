"""Shared fixtures: small synthetic data sets."""

import numpy as np
import pytest


@pytest.fixture
def blobs():
    """Well-separated Gaussian blobs in 4-D, float64."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=6.0, size=(8, 4))
    labels = rng.integers(8, size=1200)
    return centres[labels] + rng.normal(size=(1200, 4))


@pytest.fixture
def far_init_problem():
    """The paper's mismatched start: data N(8*1, I) in d=8, codebook drawn from N(0, I)."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(10000, 8)) + 8.0
    init = rng.normal(size=(256, 8))
    return X, init
