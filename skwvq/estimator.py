"""The WassersteinVQ estimator: nearest-code assignment alternating with OT alignment of the codebook."""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .alignment import (
    ALIGNMENTS,
    TARGETS,
    check_exact_size,
    default_ot_sample_size,
    make_alignment,
)
from .assignment import assign, pairwise_distances_chunked
from .initialization import INITS, initial_codebook
from .metrics import _perplexity_from, _utilization_from

ENCODINGS = ("quantized", "distance", "onehot", "ordinal")
HISTORY_KEYS = ("J", "E", "U", "C", "W", "alignment_weight")


@contextmanager
def _unchanged_on_error(estimator):
    """Restore the estimator's attributes if the block raises (bad input changes nothing)."""
    saved = dict(vars(estimator))
    try:
        yield
    except BaseException:
        vars(estimator).clear()
        vars(estimator).update(saved)
        raise


def _mean_feature_variance(X, sample_weight) -> float:
    """Weighted variance averaged over features: the scale that ``tol`` is relative to."""
    total = sample_weight.sum()
    mean = (sample_weight @ X) / total
    spread = 0.0
    for start in range(0, X.shape[0], 65536):
        rows = slice(start, start + 65536)
        spread += sample_weight[rows] @ row_norms(X[rows] - mean, squared=True)
    return float(spread / total / X.shape[1])


def update_codebook(codebook, mass, weighted_sums, targets, alignment_weight):
    """Minimiser of J for fixed assignments and transport plan (DESIGN.md section 1, step 3).

    ``c_k = [(1-g) n_k/N m_k + (g/K) t_k] / [(1-g) n_k/N + g/K]``, written with
    ``weighted_sums = n_k m_k / N`` so that no division by an empty count occurs.
    A code with ``n_k = 0`` moves to its target ``t_k`` when ``g > 0`` and stays
    where it is when ``g = 0`` (Lloyd's rule has nothing to say about it).

    Parameters
    ----------
    codebook : ndarray of shape (n_codes, n_features)
    mass : ndarray of shape (n_codes,)
        ``n_k / N``: fraction of the sample weight assigned to each code.
    weighted_sums : ndarray of shape (n_codes, n_features)
        ``n_k m_k / N``: weighted sum of each code's samples over the total weight.
    targets : ndarray of shape (n_codes, n_features) or None
        Transport targets; ignored (may be None) when ``alignment_weight == 0``.
    alignment_weight : float in [0, 1]

    Returns
    -------
    ndarray of shape (n_codes, n_features), in the dtype of ``codebook``

    Examples
    --------
    >>> import numpy as np
    >>> codebook = np.array([[0.0], [5.0]])
    >>> mass, sums = np.array([1.0, 0.0]), np.array([[2.0], [0.0]])
    >>> update_codebook(codebook, mass, sums, None, 0.0)  # Lloyd; the empty code stays
    array([[2.],
           [5.]])
    >>> update_codebook(codebook, mass, sums, np.array([[4.0], [9.0]]), 0.5)
    array([[2.66666667],
           [9.        ]])
    """
    n_codes = codebook.shape[0]
    g = float(alignment_weight)
    numerator = (1.0 - g) * weighted_sums
    denominator = (1.0 - g) * mass
    if g > 0:
        numerator = numerator + (g / n_codes) * targets
        denominator = denominator + g / n_codes
    updated = np.array(codebook, dtype=np.float64)
    moved = denominator > 0
    updated[moved] = numerator[moved] / denominator[moved, None]
    return updated.astype(codebook.dtype, copy=False)


class WassersteinVQ(TransformerMixin, ClusterMixin, BaseEstimator):
    """Vector quantizer whose codebook is matched to the data's distribution.

    Each iteration assigns every sample to its nearest code, computes an
    optimal-transport target ``t_k`` for every code, and moves each code to the
    minimiser of ``J = (1 - g) E + g W^2``::

        c_k = [(1 - g)(n_k/N) m_k + (g/K) t_k] / [(1 - g)(n_k/N) + g/K]

    ``g = 0`` is Lloyd's k-means; with ``g > 0`` an unused code follows its target
    back into the data instead of dying. The weight ``g`` decays over iterations
    (``g_t = alignment_weight * alignment_decay**t``), so alignment rescues dead and
    far-away codes early and the final codebook is close to a Lloyd fixed point
    with every code in use.

    Parameters
    ----------
    n_clusters : int, default=256
        Codebook size K (named as in ``KMeans``, so one parameter grid serves both).
    alignment : {"sliced", "gaussian", "exact"}, default="sliced"
        How transport targets are computed. ``"sliced"``: 1-D optimal transport
        along random directions; any distribution shape, any K. ``"gaussian"``:
        closed-form Monge map between Gaussian fits; fast, but blind to multimodal
        structure. ``"exact"``: ``ot.emd`` between a data sample and the codes;
        the most faithful, practical up to a few thousand codes.
    target : {"quantization-optimal", "data"}, default="quantization-optimal"
        Distribution the codes are matched to. ``"data"`` is the data's own
        distribution ``p`` (the paper's choice). ``"quantization-optimal"`` is
        ``p^{d/(d+2)}``, the density of codes that minimises squared error
        (Zador): it reaches k-means++'s error on low-dimensional data where
        matching ``p`` itself costs 15-60%.
    alignment_weight : float in [0, 1], default=0.5
        Initial weight ``g`` of the Wasserstein term.
    alignment_decay : float in (0, 1], default=0.9
        Factor applied to ``g`` after every iteration; 1 keeps it constant.
    init : {"random", "k-means++", "gaussian"} or array of shape (n_clusters, n_features), \
            default="random"
        ``"random"``: distinct data rows (probability proportional to
        ``sample_weight``). ``"k-means++"``: sklearn's ``kmeans_plusplus`` (costly
        at large K). ``"gaussian"``: draws from the data's Gaussian fit. An array
        is used as given, e.g. to reproduce a mismatched start.
    max_iter : int, default=100
        Maximum number of iterations.
    tol : float, default=1e-4
        Stop when the squared codebook shift of an iteration falls below
        ``tol`` times the mean per-feature variance of the data (as ``KMeans``).
    ot_sample_size : int, default=None
        Data points (drawn once per fit) that the sliced and exact alignments
        transport to. None: ``max(8 K, 16384)`` for sliced; ``max(4 K, 1024)``
        for exact, lowered (to ``K`` at least) so that the plan stays within
        ``2**24`` entries; capped at ``n_samples``.
    n_projections : int, default=None
        Random directions of the sliced alignment, drawn once per fit;
        ``max(64, 2 n_features)`` if None.
    encode : {"quantized", "distance", "onehot", "ordinal"}, default="quantized"
        Output of ``transform``: each row replaced by its code vector; distances
        to every code (``KMeans`` semantics); a sparse one-hot matrix of codes;
        or the code index as one integer column.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial codebook, the OT sample and the sliced directions.
    verbose : int, default=0
        Print J, E, U and ``g`` every iteration when positive.

    Attributes
    ----------
    codebook_ : ndarray of shape (n_clusters, n_features)
        Learned codes, in the dtype of the training data.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The same array as ``codebook_``, so code written for ``KMeans`` works.
    labels_ : ndarray of shape (n_samples,)
        Code index of each training sample.
    inertia_ : float
        Sum of (weighted) squared distances of training samples to their codes.
    n_iter_ : int
        Iterations run.
    history_ : dict of ndarray
        Per iteration, measured at the codebook entering it: ``"J"`` (objective),
        ``"E"`` (quantization error), ``"U"`` (utilization), ``"C"``
        (perplexity), ``"W"`` (the alignment's 2-Wasserstein estimate; NaN when
        ``g = 0`` skips alignment) and ``"alignment_weight"`` (``g``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.cluster.KMeans : Lloyd's algorithm; ``alignment_weight=0`` reproduces it.
    skwvq.metrics : E, U, C, W and scorers for any fitted quantizer.

    Examples
    --------
    >>> import numpy as np
    >>> from skwvq import WassersteinVQ
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(loc=8.0, size=(2000, 8))
    >>> far_init = rng.normal(size=(64, 8))  # every code starts far from the data
    >>> vq = WassersteinVQ(n_clusters=64, init=far_init, random_state=0).fit(X)
    >>> vq.codebook_.shape
    (64, 8)
    >>> bool(np.unique(vq.predict(X)).size == 64)  # no dead code
    True
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "alignment": [StrOptions(set(ALIGNMENTS))],
        "target": [StrOptions(set(TARGETS))],
        "alignment_weight": [Interval(Real, 0, 1, closed="both")],
        "alignment_decay": [Interval(Real, 0, 1, closed="right")],
        "init": [StrOptions(set(INITS)), "array-like"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "ot_sample_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_projections": [Interval(Integral, 1, None, closed="left"), None],
        "encode": [StrOptions(set(ENCODINGS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters=256,
        *,
        alignment="sliced",
        target="quantization-optimal",
        alignment_weight=0.5,
        alignment_decay=0.9,
        init="random",
        max_iter=100,
        tol=1e-4,
        ot_sample_size=None,
        n_projections=None,
        encode="quantized",
        random_state=None,
        verbose=0,
    ):
        self.n_clusters = n_clusters
        self.alignment = alignment
        self.target = target
        self.alignment_weight = alignment_weight
        self.alignment_decay = alignment_decay
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.ot_sample_size = ot_sample_size
        self.n_projections = n_projections
        self.encode = encode
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.encode in ("quantized", "distance") else []
        )
        return tags

    @property
    def cluster_centers_(self) -> np.ndarray:
        """The learned codes; the same array as ``codebook_``."""
        return self.codebook_

    # ------------------------------------------------------------------ fit --
    def _check_fit_inputs(self, X, sample_weight):
        """Validate everything that depends on the data before anything is computed."""
        n_samples, n_features = X.shape
        if n_samples < self.n_clusters:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={self.n_clusters}."
            )
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        n_weighted = int(np.count_nonzero(sample_weight))
        if n_weighted < self.n_clusters:
            raise ValueError(
                f"Only {n_weighted} samples have a positive sample_weight; "
                f"n_clusters={self.n_clusters} codes need at least as many."
            )
        init = self.init
        if not isinstance(init, str):
            init = check_array(init, dtype=X.dtype, input_name="init")
            if init.shape != (self.n_clusters, n_features):
                raise ValueError(
                    f"init array has shape {init.shape}; expected "
                    f"(n_clusters, n_features) = ({self.n_clusters}, {n_features})."
                )
        ot_sample_size = min(
            self.ot_sample_size
            or default_ot_sample_size(self.alignment, self.n_clusters, n_samples),
            n_samples,
        )
        if self.alignment == "exact":
            check_exact_size(ot_sample_size, self.n_clusters)
        return sample_weight, init, ot_sample_size

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Learn the codebook from X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, float32 or float64 (other numeric types become float64).
        y : Ignored
            Not used, present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, used by assignment statistics, E and the data
            side of the alignment.

        Returns
        -------
        self : WassersteinVQ
            Fitted estimator.
        """
        with _unchanged_on_error(self):
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)
            sample_weight, init, ot_sample_size = self._check_fit_inputs(
                X, sample_weight
            )
            rng = check_random_state(self.random_state)
            codebook = initial_codebook(X, self.n_clusters, init, sample_weight, rng)
            align = make_alignment(
                self.alignment,
                X,
                sample_weight,
                n_codes=self.n_clusters,
                target=self.target,
                ot_sample_size=ot_sample_size,
                n_projections=self.n_projections,
                rng=rng,
            )
            codebook, history = self._run(X, sample_weight, codebook, align, rng)
            final = assign(X, codebook, sample_weight=sample_weight)

        self.codebook_ = codebook
        self.labels_ = final.labels
        self.inertia_ = float(sample_weight @ final.sq_distances)
        self.n_iter_ = len(history["J"])
        self.history_ = history
        return self

    def _run(self, X, sample_weight, codebook, align, rng):
        """The iteration loop: assign, align, update, until max_iter or the shift is below tol."""
        total_weight = float(sample_weight.sum())
        x_sq_norms = row_norms(X, squared=True)
        shift_tol = self.tol * _mean_feature_variance(X, sample_weight)
        history = {key: [] for key in HISTORY_KEYS}
        for iteration in range(self.max_iter):
            g = self.alignment_weight * self.alignment_decay**iteration
            stats = assign(
                X, codebook, sample_weight=sample_weight, x_sq_norms=x_sq_norms
            )
            targets, w2 = align(codebook, rng) if g > 0 else (None, np.nan)
            error = float(sample_weight @ stats.sq_distances) / total_weight
            objective = (1 - g) * error + (g * w2 if g > 0 else 0.0)
            for key, value in zip(
                HISTORY_KEYS,
                (
                    objective,
                    error,
                    _utilization_from(stats.counts),
                    _perplexity_from(stats.counts),
                    np.sqrt(w2),
                    g,
                ),
            ):
                history[key].append(value)
            updated = update_codebook(
                codebook,
                stats.counts / total_weight,
                stats.sums / total_weight,
                targets,
                g,
            )
            shift = float(np.sum((updated.astype(np.float64) - codebook) ** 2))
            codebook = updated
            if self.verbose:
                print(
                    f"Iteration {iteration}: J={objective:.6g} E={error:.6g} "
                    f"U={history['U'][-1]:.3f} g={g:.3g} shift={shift:.3g}"
                )
            if shift <= shift_tol:
                break
        return codebook, {key: np.asarray(values) for key, values in history.items()}

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the code index of each training sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    # ------------------------------------------------------------ inference --
    def _validated(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X, self.codebook_.astype(X.dtype, copy=False)

    def predict(self, X):
        """Index of the nearest code of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
        """
        X, codebook = self._validated(X)
        return assign(X, codebook).labels

    def transform(self, X):
        """Encode X as set by ``encode``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray or sparse matrix
            ``"quantized"``: (n_samples, n_features), each row's code vector;
            ``"distance"``: (n_samples, n_clusters) Euclidean distances;
            ``"onehot"``: sparse CSR (n_samples, n_clusters);
            ``"ordinal"``: (n_samples, 1) code indices.
        """
        X, codebook = self._validated(X)
        if self.encode == "distance":
            return pairwise_distances_chunked(X, codebook)
        labels = assign(X, codebook).labels
        if self.encode == "quantized":
            return codebook[labels]
        if self.encode == "ordinal":
            return labels[:, None]
        n_samples = X.shape[0]
        return sp.csr_matrix(
            (np.ones(n_samples, dtype=X.dtype), labels, np.arange(n_samples + 1)),
            shape=(n_samples, self.n_clusters),
        )

    def inverse_transform(self, X):
        """Code vectors for encoded rows (the decoder of ``transform``).

        Parameters
        ----------
        X : array-like or sparse matrix
            An output of ``transform`` under the current ``encode``.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The code vector that each row encodes.
        """
        check_is_fitted(self)
        if self.encode == "quantized":
            X, codebook = self._validated(X)
            return codebook[assign(X, codebook).labels]
        if self.encode == "ordinal":
            codes = check_array(X, dtype=None, input_name="X")
            if codes.shape[1] != 1 or not np.all(np.mod(codes, 1) == 0):
                raise ValueError("ordinal codes must be one column of integers.")
            codes = codes[:, 0].astype(np.int64)
            if codes.min() < 0 or codes.max() >= self.n_clusters:
                raise ValueError(f"codes must lie in [0, {self.n_clusters}).")
            return self.codebook_[codes]
        encoded = check_array(X, accept_sparse="csr", dtype=None, input_name="X")
        if encoded.shape[1] != self.n_clusters:
            raise ValueError(
                f"X has {encoded.shape[1]} columns; {self.encode!r} codes have "
                f"n_clusters={self.n_clusters}."
            )
        if self.encode == "onehot":
            codes = np.asarray(encoded.argmax(axis=1)).ravel()
        else:
            codes = np.asarray(encoded).argmin(axis=1)
        return self.codebook_[codes]

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) sum of squared distances of X to its nearest codes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``-inertia`` on X, as ``KMeans.score``; greater is better.
        """
        X, codebook = self._validated(X)
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=X.dtype, ensure_non_negative=True
        )
        return -float(sample_weight @ assign(X, codebook).sq_distances)

    def get_feature_names_out(self, input_features=None):
        """Names of the columns that ``transform`` returns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input names; checked against ``feature_names_in_`` for the
            ``"quantized"`` encoding, which keeps one column per input feature.

        Returns
        -------
        ndarray of str
            Input names for ``"quantized"``; ``wassersteinvq0 ...`` per code for
            ``"distance"`` and ``"onehot"``; ``wassersteinvq_code`` for ``"ordinal"``.
        """
        check_is_fitted(self)
        if self.encode == "quantized":
            return _check_feature_names_in(self, input_features)
        prefix = type(self).__name__.lower()
        if self.encode == "ordinal":
            return np.asarray([f"{prefix}_code"], dtype=object)
        return np.asarray(
            [f"{prefix}{k}" for k in range(self.n_clusters)], dtype=object
        )
