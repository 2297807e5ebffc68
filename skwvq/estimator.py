"""The WassersteinVQ estimator: the scikit-learn surface (parameters, validation, fitted attributes, inference).

Fitting is orchestrated in ``skwvq._fit``; X is looked at once, by
``skwvq._inputs.as_rows``; ``skwvq._encoding`` computes what inference returns.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted

from . import _encoding, _fit
from ._inputs import Output, as_rows
from ._solver import SolverState
from .alignment import ALIGNMENTS, TARGETS
from .backends import BACKENDS, backend_of, import_torch, to_host
from .initialization import INITS, check_codebook

ENCODINGS = ("quantized", "distance", "onehot", "ordinal")


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


class WassersteinVQ(TransformerMixin, ClusterMixin, BaseEstimator):
    """Vector quantizer whose codebook is matched to the data's distribution.

    Each iteration assigns every sample to its nearest code, computes an
    optimal-transport target ``t_k`` for every code, and moves each code to the
    minimiser of ``J = (1 - g) E + g W^2``::

        c_k = [(1 - g)(n_k/N) m_k + (g/K) t_k] / [(1 - g)(n_k/N) + g/K]

    ``g = 0`` is Lloyd's k-means; with ``g > 0`` an unused code follows its target
    back into the data instead of dying, and a code that an iteration still
    leaves without samples is re-seeded on a data row where the other codes
    serve the data worst, so no code stays dead. The weight ``g`` decays over
    iterations (``g_t = alignment_weight * alignment_decay**t``), so alignment
    moves far-away codes early, and the fit ends with a Lloyd step once the
    assignment has settled: a Lloyd fixed point with every code in use.

    Parameters
    ----------
    n_clusters : int or "auto", default="auto"
        Codebook size K (named as in ``KMeans``, so one parameter grid serves
        both). ``"auto"``: 256 codes (one byte per code), or one code per sample
        when the data that the codebook is first drawn from (``fit``'s X, the
        first ``partial_fit`` batch) have fewer rows, with a warning saying so;
        ``n_clusters_`` holds the number used. An integer larger than the
        number of samples is an error, as in ``KMeans``.
    alignment : {"sliced", "gaussian", "exact"}, default="sliced"
        How transport targets are computed. ``"sliced"``: 1-D optimal transport
        along random directions; any distribution shape, any K. ``"gaussian"``:
        closed-form Monge map between Gaussian fits; fast, but blind to multimodal
        structure. ``"exact"``: ``ot.emd`` between a data sample and the codes;
        the most faithful, practical up to a few thousand codes.
    target : {"auto", "quantization-optimal", "data"}, default="auto"
        Distribution the codes are matched to. ``"data"`` is the data's own
        distribution ``p`` (the paper's choice). ``"quantization-optimal"`` is
        ``p^{d/(d+2)}``, the density of codes that minimises squared error
        (Zador). ``"auto"`` takes ``"quantization-optimal"`` for sliced and
        exact alignment and ``"data"`` for Gaussian alignment, whose single
        wider Gaussian was measured worse (evidence: :doc:`/defaults`).
    alignment_weight : float in [0, 1], default=0.05
        Initial weight ``g`` of the Wasserstein term.
    alignment_decay : float in (0, 1], default=0.8
        Factor applied to ``g`` after every iteration; 1 keeps it constant.
        ``0.05 * 0.8**t`` was chosen for the error closest to k-means++'s in
        the fewest iterations over 25 data sets and codebook sizes (evidence:
        :doc:`/defaults`).
    init : {"auto", "random", "k-means++", "gaussian"} or array of shape (n_clusters, n_features), \
            default="auto"
        ``"auto"``: greedy k-means++ (sklearn's algorithm, compiled) on a uniform
        subsample whose cost is bounded (``skwvq.initialization.seeding_sample_size``:
        every row up to about ``2e10 / (K d log K)`` of them, at least ``2 K``),
        so its cost does not grow with N. ``"k-means++"``: the same on all
        rows. ``"random"``: distinct data rows (probability proportional to
        ``sample_weight``); from it Lloyd's iterations can settle in a worse
        basin where samples per code are few. ``"gaussian"``: draws from the data's
        Gaussian fit. A callable ``init(X, n_clusters, random_state)`` returns
        the codebook (``KMeans``'s signature; X is a numpy array, or a CSR
        matrix when the fit's X is sparse). An array is
        used as given, e.g. to reproduce a mismatched start.
    max_iter : int, default=100
        Maximum number of iterations.
    warm_start : bool, default=False
        When True and the estimator is fitted, ``fit`` starts from the current
        ``codebook_`` instead of ``init`` and continues the schedule of ``g``
        where the earlier fits left it (``g_t = alignment_weight *
        alignment_decay**(t + T)`` with ``T`` their iterations): the refit
        continues the earlier fit (a fit that had settled on a Lloyd fixed
        point stays there) and refines the codes on new data without pulling
        them back toward alignment. An ``init`` array, by contrast, starts the
        schedule afresh at ``alignment_weight``: the codes are aligned to the
        data again, as in a new fit.
    tol : float, default=1e-4
        Stop when the squared codebook shift of an iteration falls below
        ``tol`` times the mean per-feature variance of the data (as ``KMeans``).
        With a decaying ``g`` a full-batch fit also stops once the codes' cell
        means move by less than that (the assignment has settled), after one
        last Lloyd step (``g = 0``).
    ot_sample_size : int, default=None
        Data points (drawn once per fit) that the sliced and exact alignments
        transport to. None: ``max(8 K, 16384)`` for sliced; ``max(4 K, 1024)``
        for exact, lowered (to ``K`` at least) so that the plan stays within
        ``2**24`` entries; capped at ``n_samples``.
    n_projections : int, default=None
        Random directions of the sliced alignment, drawn once per fit;
        ``skwvq.alignment.default_n_projections`` if None: ``max(64,
        2 n_features)``, capped at ``2**24`` direction entries past 2896
        features and, for sparse X, at the OT sample's stored entries per
        feature.
    batch_size : int, default=None
        Mini-batch size. None (or at least ``n_samples``): every iteration uses
        all of X. Otherwise every iteration is an epoch of random mini-batches
        with running per-code statistics, as ``MiniBatchKMeans``, and X may be a
        memory-mapped array larger than memory. ``partial_fit`` streams batches
        one call at a time.
    stats_horizon : float, default=None
        Rows that the running per-code statistics of mini-batch fits and of
        ``partial_fit`` remember: each step keeps ``1 - rows / stats_horizon``
        of them and adds its batch's, so statistics gathered while a code stood
        elsewhere fade. ``numpy.inf`` never forgets (``MiniBatchKMeans``'s
        lifelong counts). None: 50 rows per code (``50 * n_clusters``), for
        ``fit`` and ``partial_fit`` alike: fewer rows make noisy means, more
        keep rows assigned while a code stood elsewhere (evidence:
        :doc:`/defaults`).
    max_no_improvement : int, default=10
        Mini-batch fits stop once the smoothed batch error (an exponentially
        weighted average, as ``MiniBatchKMeans``) has not improved for this many
        consecutive batches; None disables the test, leaving ``tol`` and
        ``max_iter``. Full-batch fits stop on ``tol`` alone. The rule stops
        once the error stalls, not once the alignment has done its work: set
        None when every code's share matters more than time (the cost of each
        choice: :doc:`/defaults`).
    backend : {"auto", "numpy", "torch"}, default="auto"
        Array library that runs the fit loop. ``"numpy"``: threaded BLAS and
        numba kernels on the CPU. ``"torch"``: PyTorch on ``device`` (a GPU, or
        the CPU), with sliced and Gaussian alignment on the device and exact OT
        on the CPU through POT. ``"auto"``: torch when X is a torch tensor or a
        ``device`` is named, numpy otherwise. The same ``random_state`` gives
        the same run on either backend, up to floating-point rounding.
    device : str or torch.device, default=None
        Torch device of the torch backend, e.g. ``"cuda"`` or ``"cuda:1"``. None:
        the input tensor's device, else ``"cuda"`` when available, else ``"cpu"``.
        numpy data that fit in half the GPU's free memory are copied to it once;
        larger data stay on the host and travel chunk by chunk.
    encode : {"quantized", "distance", "onehot", "ordinal"}, default="quantized"
        Output of ``transform``: each row replaced by its code vector; distances
        to every code (``KMeans`` semantics); a sparse one-hot matrix of codes;
        or the code index as one integer column.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial codebook, the OT sample, the sliced directions and the
        mini-batches: every random draw comes from this one numpy generator,
        whatever the backend.
    verbose : int, default=0
        1: print one line per iteration (epoch) with J, E, U, ``g``, the
        codebook's shift and the seconds since ``fit`` began. 2: with
        ``batch_size`` set, also a progress bar over each epoch's mini-batches
        (tqdm when installed; a few lines on stderr otherwise).

    Attributes
    ----------
    codebook_ : ndarray of shape (n_clusters, n_features)
        Learned codes, in the dtype of the training data (float32 for float16 or
        bfloat16 tensors). A numpy array whatever the backend, so that pickling,
        sklearn tools and ``skwvq.metrics`` work; ``codebook_tensor_`` gives it
        back as a tensor on the fit's device.
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The same array as ``codebook_``, so code written for ``KMeans`` works.
    n_clusters_ : int
        Number of codes: ``n_clusters``, with ``"auto"`` resolved.
    labels_ : ndarray of shape (n_samples,)
        Code index of each training sample.
    inertia_ : float
        Sum of (weighted) squared distances of training samples to their codes.
    n_iter_ : int
        Iterations (epochs of ``batch_size`` fits, calls of ``partial_fit``) run,
        counting one stopped part-way.
    n_steps_ : int
        Codebook updates (mini-batches) run: ``n_iter_`` for a full-batch fit.
    history_ : dict of ndarray
        Per iteration, measured at the codebook entering it: ``"J"`` (objective),
        ``"E"`` (quantization error), ``"U"`` (utilization), ``"C"``
        (perplexity), ``"W"`` (the alignment's 2-Wasserstein estimate; NaN when
        ``g = 0`` skips alignment) and ``"alignment_weight"`` (``g``).
    backend_ : str
        Backend the fit ran on, ``"numpy"`` or ``"torch"``.
    device_ : str
        Device the fit ran on (``"cpu"`` for the numpy backend).
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
        "encode": [StrOptions(set(ENCODINGS))],
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
        tags.transformer_tags.preserves_dtype = (
            ["float64", "float32"] if self.encode in ("quantized", "distance") else []
        )
        return tags

    @property
    def cluster_centers_(self) -> np.ndarray:
        """The learned codes; the same array as ``codebook_``.

        Assigning it sets ``codebook_`` (a hand-edited codebook, a warm start),
        checked against ``n_clusters`` and ``n_features_in_`` and kept in the
        fitted dtype.
        """
        return self.codebook_

    @cluster_centers_.setter
    def cluster_centers_(self, codebook) -> None:
        check_is_fitted(self)
        self.codebook_ = check_codebook(
            codebook,
            self.n_clusters_,
            self.n_features_in_,
            self.codebook_.dtype,
            "cluster_centers_",
        )
        # A stream goes on from the new codes, not from the ones it carried.
        vars(self).pop("_stream", None)

    @property
    def codebook_tensor_(self):
        """A copy of the learned codes as a torch tensor on the device the fit ran on."""
        check_is_fitted(self)
        return import_torch().tensor(self.codebook_, device=self.device_)

    def _rows(self, X, *, reset: bool = False, stream: bool = False):
        """X validated once, as the rows of its kind (``skwvq._inputs.as_rows``)."""
        return as_rows(
            X,
            backend=self.backend,
            device=self.device,
            estimator=self,
            reset=reset,
            stream=stream,
        )

    def _set_fitted(self, fitted: _fit.Fitted) -> None:
        state = fitted.state
        self.backend_, self.device_ = fitted.backend, fitted.device
        self.codebook_ = to_host(state.codebook)
        self.n_clusters_ = self.codebook_.shape[0]
        self.labels_ = to_host(fitted.labels)
        self.inertia_ = fitted.inertia
        self.n_iter_ = state.n_epochs
        self.n_steps_ = state.n_steps
        self.history_ = {k: np.asarray(v) for k, v in state.history.items()}

    # ------------------------------------------------------------------ fit --
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Learn the codebook from X.

        With ``batch_size`` set (and smaller than ``n_samples``) every iteration is
        one epoch of random mini-batches with running per-code statistics, so X
        may be an ``np.memmap`` larger than memory: only a batch, the OT sample
        and the labels are held at once.

        Sparse X (CSR; other formats are converted) is never densified, as in
        ``KMeans``: the assignment multiplies its rows with the dense codebook
        and the alignment projects the OT sample by sparse products; the fit
        gives the codebook that the densified data would, up to rounding. It
        needs the numpy backend: ``backend="torch"`` raises a TypeError.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
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
        self._fit(X, sample_weight)
        return self

    def _fit(self, X, sample_weight):
        """Fit on X; the rows of X, for ``fit_predict`` to return labels as X came."""
        with _unchanged_on_error(self):
            rows = self._rows(X, reset=True)
            fitted = _fit.fit(self, rows, sample_weight)
        vars(self).pop("_stream", None)
        self._set_fitted(fitted)
        self._schedule_epochs = fitted.schedule_epochs
        if fitted.n_used < self.n_clusters_:
            # Re-seeding leaves a code unused only when no distinct row is left.
            warnings.warn(
                f"Number of distinct clusters ({fitted.n_used}) found smaller than "
                f"n_clusters ({self.n_clusters_}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return rows

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update the codebook with one mini-batch of a stream.

        The first call draws the initial codebook from its batch (which needs at
        least ``n_clusters`` rows) unless the estimator is already fitted. Each
        call is one step of the solver: the batch is assigned, its statistics
        join the running ones (which forget as ``stats_horizon`` says), the
        codebook is aligned and updated; ``g`` decays once per call. The
        alignment's data side comes from the stream: running moments for
        ``"gaussian"``, a uniform reservoir sample of ``ot_sample_size`` rows for
        ``"sliced"`` and ``"exact"`` (rebuilt each time the number of rows seen
        doubles). ``labels_`` and ``inertia_`` describe the last batch. The
        codebook stays on the backend's device between calls; ``codebook_`` is
        its host copy.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : WassersteinVQ
        """
        with _unchanged_on_error(self):
            rows = self._rows(X, reset=not hasattr(self, "codebook_"), stream=True)
            stream = vars(self).get("_stream")
            fitted, stream = _fit.partial_fit(self, rows, sample_weight, stream)
        self._stream = stream
        self._set_fitted(fitted)
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit and return the code index of each training sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        labels : ndarray or tensor of shape (n_samples,)
            A tensor on X's device when X is a tensor.
        """
        return self._fit(X, sample_weight).wrap(self.labels_)

    @classmethod
    def from_codebook(cls, codebook, X=None, **params) -> WassersteinVQ:
        """A fitted estimator holding ``codebook``, without fitting: for codes learned elsewhere.

        Parameters
        ----------
        codebook : array-like of shape (n_clusters, n_features)
            The codes (a tensor comes to the host); float32 stays float32.
        X : array-like of shape (n_samples, n_features), default=None
            Rows whose labels and inertia the estimator reports (``labels_``,
            ``inertia_``); without them ``labels_`` is empty and ``inertia_`` NaN.
        **params
            Parameters of the estimator (``n_clusters`` is the codebook's size).

        Returns
        -------
        WassersteinVQ
            Fitted: ``predict``, ``transform`` and ``score`` use ``codebook``.

        Examples
        --------
        >>> import numpy as np
        >>> vq = WassersteinVQ.from_codebook(np.array([[0.0], [10.0]]))
        >>> vq.predict(np.array([[1.0], [9.0]]))
        array([0, 1])
        """
        codebook = np.asarray(to_host(codebook))
        codebook = check_codebook(
            codebook, *codebook.shape, codebook.dtype.type, "codebook"
        )
        estimator = cls(n_clusters=codebook.shape[0], init=codebook, **params)
        estimator.n_features_in_ = codebook.shape[1]
        labels, inertia = np.empty(0, dtype=np.int64), np.nan
        if X is not None:
            rows = as_rows(X, backend="numpy")
            rows.check_sample_weight(None)
            labels, inertia, _ = rows.final_assignment(rows.codebook_here(codebook))
        nx = backend_of()
        state = SolverState(codebook)
        estimator._set_fitted(
            _fit.Fitted(state, labels, inertia, None, nx.__name__, nx.device)
        )
        return estimator

    # ------------------------------------------------------------ inference --
    def _inference_rows(self, X):
        check_is_fitted(self)
        return self._rows(X)

    def predict(self, X):
        """Index of the nearest code of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray or tensor of shape (n_samples,), dtype int64
            A tensor on X's device when X is a tensor; a dask array, computed
            lazily, when X is one.
        """
        rows = self._inference_rows(X)
        return rows.apply(
            _encoding.nearest, self.codebook_, output=Output(None, np.int64)
        )

    def transform(self, X):
        """Encode X as set by ``encode``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray, sparse matrix or tensor
            ``"quantized"``: (n_samples, n_features), each row's code vector
            (a CSR matrix when X is sparse: a code holds as many stored
            entries as it has nonzeros);
            ``"distance"``: (n_samples, n_clusters) Euclidean distances;
            ``"onehot"``: sparse CSR (n_samples, n_clusters);
            ``"ordinal"``: (n_samples, 1) code indices. A tensor on X's device
            (sparse CSR for ``"onehot"``) when X is a tensor; a dask array,
            computed lazily, when X is one.
        """
        rows = self._inference_rows(X)
        output = _encoding.output(
            self.encode, rows.dtype, self.n_clusters_, self.n_features_in_
        )
        return rows.apply(_encoding.encode, self.codebook_, self.encode, output=output)

    def inverse_transform(self, X):
        """Code vectors for encoded rows (the decoder of ``transform``).

        Parameters
        ----------
        X : array-like or sparse matrix
            An output of ``transform`` under the current ``encode``.

        Returns
        -------
        ndarray or tensor of shape (n_samples, n_features)
            The code vector that each row encodes; a tensor on X's device when
            X is a tensor.
        """
        check_is_fitted(self)
        columns = self.n_features_in_
        if self.encode == "quantized":
            rows = self._rows(X)
            output = Output(columns, rows.dtype)
            return rows.apply(_encoding.quantize, self.codebook_, output=output)
        rows = as_rows(X, features=False)
        output = Output(columns, self.codebook_.dtype)
        return rows.apply(_encoding.decode, self.codebook_, self.encode, output=output)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the (weighted) sum of squared distances of X to its nearest codes.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``-inertia`` on X, as ``KMeans.score``; greater is better.
        """
        rows = self._inference_rows(X)
        rows.check_sample_weight(sample_weight)
        return -rows.code_statistics(self.codebook_).error

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
            [f"{prefix}{k}" for k in range(self.n_clusters_)], dtype=object
        )
