"""The WassersteinVQ estimator: the scikit-learn surface (parameters, validation through ``skwvq._inputs``, fitted attributes, inference); ``skwvq._fit`` runs the fit."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from . import _encoding, _fit
from ._inputs import Output, as_rows
from .alignment import ALIGNMENTS, TARGETS
from .backends import BACKENDS, import_torch, to_host
from .initialization import INITS, check_codebook


class WassersteinVQ(TransformerMixin, ClusterMixin, BaseEstimator):
    """Vector quantizer whose codebook is matched to the data's distribution.

    Each iteration assigns every sample to its nearest code, computes an
    optimal-transport target ``t_k`` for every code, and moves each code to the
    minimiser of ``J = (1 - g) E + g W^2``::

        c_k = [(1 - g)(n_k/N) m_k + (g/K) t_k] / [(1 - g)(n_k/N) + g/K]

    ``g = 0`` is Lloyd's k-means; with ``g > 0`` an unused code follows its
    target back into the data, and one still without samples is re-seeded on
    the data, so no code stays dead. ``g`` decays, so the fit ends at a Lloyd
    fixed point with every code in use. Each parameter in depth, and the
    measurements behind its default: :doc:`/parameters`.

    Parameters
    ----------
    n_clusters : int or "auto", default="auto"
        Codebook size K (named as in ``KMeans``). ``"auto"``: 256, or one code
        per sample when the first data have fewer rows (with a warning).
    alignment : {"sliced", "gaussian", "exact"}, default="sliced"
        Transport targets: 1-D optimal transport along random directions (any
        distribution, any K); the closed-form map between Gaussian fits (fast,
        blind to multimodal structure); ``ot.emd`` to a data sample (the most
        faithful, up to a few thousand codes).
    target : {"auto", "quantization-optimal", "data"}, default="auto"
        Distribution the codes are matched to: the data's ``p`` (the paper's),
        or ``p^{d/(d+2)}``, which minimises squared error (Zador). ``"auto"``:
        quantization-optimal for sliced and exact, data for Gaussian.
    alignment_weight : float in [0, 1], default=0.05
        Initial weight ``g`` of the Wasserstein term.
    alignment_decay : float in (0, 1], default=0.8
        Factor on ``g`` per iteration: ``g_t = alignment_weight * alignment_decay**t``.
    init : {"auto", "random", "k-means++", "gaussian"}, callable or array of shape (n_clusters, n_features), default="auto"
        ``"auto"``: greedy k-means++ on a subsample of bounded cost (all rows
        of small data); ``"k-means++"``: on all rows; ``"random"``: distinct
        rows; ``"gaussian"``: draws from the data's Gaussian fit. A callable
        ``init(X, n_clusters, random_state)`` as ``KMeans``'s; an array as given.
    max_iter : int, default=100
        Maximum number of iterations.
    warm_start : bool, default=False
        ``fit`` continues from the fitted ``codebook_`` and its schedule of ``g``.
    tol : float, default=1e-4
        Stop when an iteration moves the codebook (or, with a decaying ``g``,
        the codes' cell means) by less than ``tol`` times the mean per-feature
        variance, as ``KMeans``.
    ot_sample_size : int, default=None
        Points the sliced and exact alignments transport to, drawn once per
        fit; None: ``max(8 K, 16384)`` (sliced), ``max(4 K, 1024)`` (exact).
    n_projections : int, default=None
        Directions of the sliced alignment; None: ``max(64, 2 n_features)``.
    batch_size : int, default=None
        None: every iteration uses all of X; else epochs of mini-batches with
        running statistics, as ``MiniBatchKMeans`` (X may be a memmap).
    stats_horizon : float, default=None
        Rows that running statistics remember (``numpy.inf``: all); None: 50
        per code.
    max_no_improvement : int, default=10
        Mini-batch fits stop once the smoothed batch error has not improved for
        this many batches; None: ``tol`` and ``max_iter`` alone.
    backend : {"auto", "numpy", "torch"}, default="auto"
        Runs the fit on numpy (BLAS and numba on the CPU) or torch (on
        ``device``); ``"auto"``: torch for a tensor X or a named ``device``.
    device : str or torch.device, default=None
        Torch device, e.g. ``"cuda"``; None: X's, else CUDA when available.
    encode : {"quantized", "distance", "onehot", "ordinal"}, default="quantized"
        What ``transform`` returns: code vectors, distances to every code
        (``KMeans``'s), a sparse one-hot matrix, or code indices.
    random_state : int, RandomState instance or None, default=None
        The one generator of every draw (start, sample, directions, batches),
        whatever the backend.
    verbose : int, default=0
        1: a line per iteration; 2: also a progress bar over mini-batches.

    Attributes
    ----------
    codebook_ : ndarray of shape (n_clusters, n_features)
        Learned codes on the host, in the data's dtype; ``cluster_centers_`` is
        the same array and ``codebook_tensor_`` a tensor on the fit's device.
    n_clusters_ : int
        Number of codes, ``"auto"`` resolved.
    labels_ : ndarray of shape (n_samples,)
        Code index of each training sample.
    inertia_ : float
        Sum of (weighted) squared distances of training samples to their codes.
    n_iter_, n_steps_ : int
        Iterations (epochs, ``partial_fit`` calls) and codebook updates run.
    history_ : dict of ndarray
        Per iteration: ``"J"``, ``"E"``, ``"U"``, ``"C"``, ``"W"`` and
        ``"alignment_weight"`` (``g``).
    backend_, device_ : str
        Where the fit ran.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
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
        "n_clusters": [
            Interval(Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
        ],
        "alignment": [StrOptions(set(ALIGNMENTS))],
        "target": [StrOptions({"auto", *TARGETS})],
        "alignment_weight": [Interval(Real, 0, 1, closed="both")],
        "alignment_decay": [Interval(Real, 0, 1, closed="right")],
        "init": [StrOptions(set(INITS)), callable, "array-like"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "ot_sample_size": [Interval(Integral, 1, None, closed="left"), None],
        "n_projections": [Interval(Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left"), None],
        "stats_horizon": [Interval(Real, 1, None, closed="both"), None],
        "max_no_improvement": [Interval(Integral, 1, None, closed="left"), None],
        "backend": [StrOptions(set(BACKENDS))],
        # Checked when the backend is resolved, so that torch.device objects are
        # accepted without importing torch here.
        "device": "no_validation",
        "encode": [StrOptions(set(_encoding.ENCODINGS))],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_clusters="auto",
        *,
        alignment="sliced",
        target="auto",
        alignment_weight=0.05,
        alignment_decay=0.8,
        init="auto",
        max_iter=100,
        warm_start=False,
        tol=1e-4,
        ot_sample_size=None,
        n_projections=None,
        batch_size=None,
        stats_horizon=None,
        max_no_improvement=10,
        backend="auto",
        device=None,
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
        self.warm_start = warm_start
        self.tol = tol
        self.ot_sample_size = ot_sample_size
        self.n_projections = n_projections
        self.batch_size = batch_size
        self.stats_horizon = stats_horizon
        self.max_no_improvement = max_no_improvement
        self.backend = backend
        self.device = device
        self.encode = encode
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self.backend != "torch"
        kept = self.encode in ("quantized", "distance")
        tags.transformer_tags.preserves_dtype = ["float64", "float32"] if kept else []
        return tags

    @property
    def cluster_centers_(self) -> np.ndarray:
        """The learned codes, the same array as ``codebook_``; assigning it sets them (checked, in the fitted dtype)."""
        return self.codebook_

    @cluster_centers_.setter
    def cluster_centers_(self, codebook) -> None:
        check_is_fitted(self)
        shape, dtype = (self.n_clusters_, self.n_features_in_), self.codebook_.dtype
        self.codebook_ = check_codebook(codebook, *shape, dtype, "cluster_centers_")
        # A stream goes on from the new codes, not from the ones it carried.
        vars(self).pop("_stream", None)

    @property
    def codebook_tensor_(self):
        """A copy of the learned codes as a torch tensor on the device the fit ran on."""
        check_is_fitted(self)
        return import_torch().tensor(self.codebook_, device=self.device_)

    def _rows(self, X, **door):
        """X validated once, as the rows of its kind (``skwvq._inputs.as_rows``)."""
        where = dict(backend=self.backend, device=self.device)
        return as_rows(X, estimator=self, **where, **door)

    def _set_fitted(self, fitted: _fit.Fitted) -> None:
        state = fitted.state
        self.backend_, self.device_ = fitted.backend, fitted.device
        self.codebook_ = to_host(state.codebook)
        self.n_clusters_ = self.codebook_.shape[0]
        self.labels_ = to_host(fitted.labels)
        self.inertia_ = fitted.inertia
        self.n_iter_, self.n_steps_ = state.n_epochs, state.n_steps
        self.history_ = {k: np.asarray(v) for k, v in state.history.items()}

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Learn the codebook from X.

        Sparse X (CSR) is never densified; a memory-mapped X with
        ``batch_size`` is read a batch at a time; a dask X is fitted on its
        cluster, one small ``compute`` per iteration.

        Parameters
        ----------
        X : {array-like, sparse matrix, tensor, dask array} of shape (n_samples, n_features)
            float32 or float64 (other numeric types become float64).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples, in every statistic of the fit.

        Returns
        -------
        self : WassersteinVQ
        """
        self._fit(X, sample_weight)
        return self

    def _fit(self, X, sample_weight):
        """Fit on X; return its rows, for ``fit_predict`` to give labels as X came."""
        with _fit.unchanged_on_error(self):
            rows = self._rows(X, reset=True)
            fitted = _fit.fit(self, rows, sample_weight)
        vars(self).pop("_stream", None)
        self._set_fitted(fitted)
        self._schedule_epochs = fitted.schedule_epochs
        _fit.warn_unused_codes(fitted)
        return rows

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the codebook with one mini-batch of a stream: one step of the solver.

        The first call draws the codebook from its batch (of at least
        ``n_clusters`` rows) unless the estimator is fitted; the alignment
        follows the stream; ``labels_`` and ``inertia_`` describe the batch.

        Parameters
        ----------
        X : {array-like, sparse matrix, tensor} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : WassersteinVQ
        """
        with _fit.unchanged_on_error(self):
            rows = self._rows(X, reset=not hasattr(self, "codebook_"), stream=True)
            stream = vars(self).get("_stream")
            fitted, stream = _fit.partial_fit(self, rows, sample_weight, stream)
        self._stream = stream
        self._set_fitted(fitted)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the code index of each training sample (a tensor on X's device for a tensor X).

        Parameters
        ----------
        X : {array-like, sparse matrix, tensor, dask array} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray, tensor or dask array of shape (n_samples,)
        """
        return self._fit(X, sample_weight).wrap(self.labels_)

    @classmethod
    def from_codebook(cls, codebook, X=None, **params) -> WassersteinVQ:
        """A fitted estimator holding ``codebook`` (learned elsewhere), without fitting.

        Parameters
        ----------
        codebook : array-like or tensor of shape (n_clusters, n_features)
        X : array-like of shape (n_samples, n_features), default=None
            Rows that ``labels_`` and ``inertia_`` describe (empty and NaN if None).
        **params
            Other parameters of the estimator.

        Returns
        -------
        WassersteinVQ

        Examples
        --------
        >>> import numpy as np
        >>> vq = WassersteinVQ.from_codebook(np.array([[0.0], [10.0]]))
        >>> vq.predict(np.array([[1.0], [9.0]]))
        array([0, 1])
        """
        fitted = _fit.from_codebook(codebook, X)
        n_codes, n_features = fitted.state.codebook.shape
        estimator = cls(n_clusters=n_codes, init=fitted.state.codebook, **params)
        estimator._validate_params()
        estimator.n_features_in_ = n_features
        estimator._set_fitted(fitted)
        return estimator

    def _inference_rows(self, X):
        check_is_fitted(self)
        return self._rows(X, reset=False)

    def predict(self, X):
        """Index of the nearest code of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix, tensor, dask array} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype int64
            In X's kind: a tensor on X's device, a lazy dask array.
        """
        rows = self._inference_rows(X)
        output = Output(None, np.int64)
        return rows.apply(_encoding.nearest, self.codebook_, output=output)

    def transform(self, X):
        """Encode X as set by ``encode``.

        Parameters
        ----------
        X : {array-like, sparse matrix, tensor, dask array} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray, sparse matrix, tensor or dask array
            In X's kind: code vectors (CSR for a sparse X), distances to every
            code, a sparse one-hot matrix or code indices (one column).
        """
        rows = self._inference_rows(X)
        output = _encoding.output(self, rows.dtype)
        return rows.apply(_encoding.encode, self.codebook_, self.encode, output=output)

    def inverse_transform(self, X):
        """Code vectors for encoded rows (the decoder of ``transform``).

        Parameters
        ----------
        X : array-like, sparse matrix, tensor or dask array
            An output of ``transform`` under the current ``encode``.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
            The code vector each row encodes, in X's kind.
        """
        check_is_fitted(self)
        if self.encode == "quantized":
            rows = self._rows(X)
            output = Output(self.n_features_in_, rows.dtype)
            return rows.apply(_encoding.quantize, self.codebook_, output=output)
        rows = as_rows(X, features=False)
        output = Output(self.n_features_in_, self.codebook_.dtype)
        return rows.apply(_encoding.decode, self.codebook_, self.encode, output=output)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) sum of squared distances of X to its nearest codes, as ``KMeans.score``.

        Parameters
        ----------
        X : {array-like, sparse matrix, tensor, dask array} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
        """
        return -self._inference_rows(X).inertia(self.codebook_, sample_weight)

    def get_feature_names_out(self, input_features=None):
        """Names of the columns that ``transform`` returns.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_`` for ``"quantized"``.

        Returns
        -------
        ndarray of str
            The input names, ``wassersteinvq0 ...`` per code or ``wassersteinvq_code``.
        """
        check_is_fitted(self)
        if self.encode == "quantized":
            return _check_feature_names_in(self, input_features)
        prefix = type(self).__name__.lower()
        if self.encode == "ordinal":
            return np.asarray([f"{prefix}_code"], dtype=object)
        names = [f"{prefix}{k}" for k in range(self.n_clusters_)]
        return np.asarray(names, dtype=object)
