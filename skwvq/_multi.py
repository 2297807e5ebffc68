"""What the residual and product quantizers share: the parameters each level's ``WassersteinVQ`` takes, the codes contract (``transform``, ``inverse_transform``, ``score``), and restoring the estimator on error."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

from . import _codes
from ._fit import unchanged_on_error
from ._inputs import Output, as_rows
from .estimator import WassersteinVQ

# The parameters of WassersteinVQ that each level's estimator takes as given.
LEVEL_PARAMETERS = (
    "alignment",
    "target",
    "alignment_weight",
    "alignment_decay",
    "init",
    "max_iter",
    "tol",
    "ot_sample_size",
    "n_projections",
    "batch_size",
    "stats_horizon",
    "max_no_improvement",
    "backend",
    "device",
)


class MultiCodebookVQ(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Base of the quantizers with ``n_codebooks`` codebooks of ``n_clusters`` codes each.

    A row's code is one index per codebook, stored in the smallest unsigned
    type that holds them (``transform``); ``inverse_transform`` maps codes
    back to vectors; ``score`` is minus the mean squared reconstruction error.
    Subclasses define ``_fit_levels``, ``_partial_fit_levels``, ``_encode``
    (rows to int64 codes on their backend) and ``_decode`` (host codes to
    vectors).
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_codebooks": [Interval(Integral, 1, None, closed="left")],
        **{
            name: WassersteinVQ._parameter_constraints[name]
            for name in LEVEL_PARAMETERS
            if name != "init"
        },
        "init": [
            WassersteinVQ._parameter_constraints["init"][0],
            callable,
        ],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags

    @property
    def _n_features_out(self) -> int:
        """Columns of ``transform``: one code a codebook (``get_feature_names_out``)."""
        return self.n_codebooks

    # -- levels ----------------------------------------------------------------
    def _level(self, rng, **params) -> WassersteinVQ:
        """A new level: a ``WassersteinVQ`` with this estimator's level parameters and a seed from ``rng``."""
        settings = {name: getattr(self, name) for name in LEVEL_PARAMETERS}
        settings.update(params)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        return WassersteinVQ(
            n_clusters=self.n_clusters, random_state=seed, verbose=0, **settings
        )

    def _rows(self, X, **door):
        where = dict(backend=self.backend, device=self.device)
        return as_rows(X, estimator=self, **where, **door)

    def _set_levels(self, levels) -> None:
        self.estimators_ = levels
        self.history_ = [level.history_ for level in levels]
        self.n_iter_ = int(sum(level.n_iter_ for level in levels))
        self.backend_, self.device_ = levels[0].backend_, levels[0].device_

    # -- fitting ---------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Learn the codebooks from X.

        Parameters
        ----------
        X : {array-like, tensor, dask array} of shape (n_samples, n_features)
            float32 or float64; float32 is kept end to end.
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples.

        Returns
        -------
        self
        """
        _codes.code_dtype(self.n_clusters)
        with unchanged_on_error(self):
            rows = self._rows(X, reset=True)
            self._check_rows(rows)
            weights = rows.check_sample_weight(sample_weight)
            if rows.n_samples < self.n_clusters:
                raise ValueError(
                    f"n_samples={rows.n_samples} should be >= "
                    f"n_clusters={self.n_clusters}."
                )
            rng = check_random_state(self.random_state)
            self._fit_levels(X, rows, weights, rng)
        vars(self).pop("_rng", None)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update every level with one mini-batch of a stream.

        Each level takes one step of ``WassersteinVQ.partial_fit`` on its own
        input of the batch; the first call draws every codebook from its
        batch (of at least ``n_clusters`` rows), and learns the product
        quantizer's rotation on it.

        Parameters
        ----------
        X : {array-like, tensor} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        first = not hasattr(self, "estimators_")
        if first:
            _codes.code_dtype(self.n_clusters)
        with unchanged_on_error(self):
            rows = self._rows(X, reset=first, stream=True)
            self._check_rows(rows)
            rows.check_sample_weight(sample_weight)
            if first:
                self._rng = check_random_state(self.random_state)
                levels = [self._level(self._rng) for _ in range(self.n_codebooks)]
            else:
                levels = [_copy_level(level) for level in self.estimators_]
            self._partial_fit_levels(X, rows, sample_weight, levels)
        return self

    def _check_rows(self, rows) -> None:
        """Refuse rows this quantizer cannot take (the residual one: sparse rows)."""

    # -- inference -------------------------------------------------------------
    def _inference_rows(self, X):
        check_is_fitted(self)
        return self._rows(X, reset=False)

    def transform(self, X):
        """The code of each row: one index per codebook.

        Parameters
        ----------
        X : {array-like, tensor, dask array} of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_codebooks)
            uint8 when ``n_clusters <= 256``, else uint16; in X's kind (a
            tensor on X's device, a lazy dask array).
        """
        rows = self._inference_rows(X)
        self._check_rows(rows)
        dtype = _codes.code_dtype(self.n_clusters)
        return rows.apply(
            _encode_rows, self, dtype, output=Output(self.n_codebooks, dtype)
        )

    def inverse_transform(self, X):
        """The vector each code stands for.

        Parameters
        ----------
        X : array-like, tensor or dask array of shape (n_samples, n_codebooks)
            Codes, as ``transform`` returns them: integers in ``[0, n_clusters)``.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The reconstruction, in the fitted dtype and X's kind.
        """
        check_is_fitted(self)
        rows = as_rows(X, features=False)
        dtype = self._decode_dtype()
        return rows.apply(_decode_rows, self, output=Output(self.n_features_in_, dtype))

    def score(self, X, y=None, sample_weight=None) -> float:
        """Minus the mean squared reconstruction error E of X (weighted by ``sample_weight``).

        Parameters
        ----------
        X : {array-like, tensor, dask array} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        rows = self._inference_rows(X)
        self._check_rows(rows)
        return -rows.average(_squared_errors, self, sample_weight=sample_weight)

    def _decode_dtype(self):
        raise NotImplementedError


def _copy_level(level: WassersteinVQ) -> WassersteinVQ:
    """A level to update, so that a failed ``partial_fit`` leaves the fitted one as it was."""
    copy = level.__class__(**level.get_params())
    vars(copy).update(vars(level))
    return copy


def _encode_rows(rows, quantizer, dtype):
    """The codes of in-memory rows, cast to the code type, in the rows' kind."""
    codes, _ = quantizer._encode(rows)
    return rows.wrap(rows.nx.asarray(codes, dtype=dtype))


def _decode_rows(rows, quantizer):
    """The reconstruction of in-memory codes, in their kind."""
    codes = _codes.check_codes(rows.data, quantizer.n_codebooks, quantizer.n_clusters)
    return rows.wrap(quantizer._decode(codes))


def _squared_errors(rows, quantizer):
    """Each row's squared distance to its reconstruction, on the host."""
    _, errors = quantizer._encode(rows)
    return np.asarray(rows.nx.to_numpy(errors), dtype=np.float64)
