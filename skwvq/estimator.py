"""The WassersteinVQ estimator: the scikit-learn surface (parameters, validation, fitted attributes, inference)."""

from __future__ import annotations

import copy
import functools
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._moments import mean_feature_variance
from ._solver import HORIZON_ROWS_PER_CODE, SolverState, StoppingRule, run
from ._sources import SingleBatch, batch_source
from ._tensors import check_tensor, like_input, numpy_dtype
from .alignment import ALIGNMENTS, TARGETS, resolve_target
from .backends import (
    BACKENDS,
    import_torch,
    is_dask_collection,
    is_tensor,
    resolve_backend,
    to_host,
)
from .initialization import INITS, check_codebook, initial_codebook
from .kernels import as_csr

ENCODINGS = ("quantized", "distance", "onehot", "ordinal")
# What n_clusters="auto" means when the data allow it: one byte per code.
AUTO_N_CLUSTERS = 256


@dataclass
class _Stream:
    """What ``partial_fit`` carries from one batch to the next."""

    rng: np.random.RandomState
    solver: SolverState
    data: object  # the alignment's data side: MomentStream or SampleStream

    def copy(self) -> _Stream:
        """A copy that one batch can advance while this one stays as it was."""
        return _Stream(copy.deepcopy(self.rng), self.solver.copy(), self.data.copy())


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


def _final_assignment(nx, X, codebook, sample_weight):
    """Labels, inertia and the number of codes with rows, for the fitted codebook.

    The rows of a Dask fit give lazy labels and compute the rest on the cluster.
    """
    if hasattr(X, "final_assignment"):
        return X.final_assignment(to_host(codebook))
    final = nx.assign(X, codebook, sample_weight=sample_weight)
    inertia = float(nx.sum(sample_weight * final.sq_distances))
    return final.labels, inertia, np.unique(to_host(final.labels)).size


def _lazy_on_dask(method):
    """Make an inference method map a dask X block by block (``skwvq._dask``), lazily."""

    @functools.wraps(method)
    def inference(self, X, *args, **kwargs):
        if not is_dask_collection(X):
            return method(self, X, *args, **kwargs)
        from . import _dask

        check_is_fitted(self)
        return _dask.map_inference(self, X, method.__name__)

    return inference


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
        (Zador): on colour images it comes within 0.4-6% of k-means++'s error
        where matching ``p`` itself costs 15-60%. ``"auto"`` takes
        ``"quantization-optimal"`` for sliced and exact alignment and ``"data"``
        for Gaussian alignment, whose single wider Gaussian was measured worse
        (see ``benchmarks/results/defaults.csv``).
    alignment_weight : float in [0, 1], default=0.05
        Initial weight ``g`` of the Wasserstein term.
    alignment_decay : float in (0, 1], default=0.8
        Factor applied to ``g`` after every iteration; 1 keeps it constant.
        Chosen on 25 data sets and codebook sizes (``benchmarks/promise.py``)
        and on ``benchmarks/defaults.py``: with unused codes re-seeded, the
        previous 0.1 * 0.95**t left E up to 1.6% above k-means++'s and ran up
        to 2.6 times ``KMeans``'s iterations; 0.05 * 0.8**t stays within 0.2%
        of it, at most 1.43 times the iterations.
    init : {"auto", "random", "k-means++", "gaussian"} or array of shape (n_clusters, n_features), \
            default="auto"
        ``"auto"``: greedy k-means++ (sklearn's algorithm, compiled) on a uniform
        subsample whose cost is bounded (``skwvq.initialization.seeding_sample_size``:
        every row up to about ``2e10 / (K d log K)`` of them, at least ``2 K``),
        so its cost does not grow with N (measured: 2.2% of a default fit at
        N = 200,000, d = 64, K = 4096). ``"k-means++"``: the same on all rows.
        ``"random"``: distinct data rows (probability proportional to
        ``sample_weight``); from it Lloyd's iterations can settle in a worse
        basin where samples per code are few (the digits at K = 256: E 6%
        above k-means++'s). ``"gaussian"``: draws from the data's
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
        ``fit`` and ``partial_fit`` alike. Measured on a far start (N = 100,000,
        K = 256, batches of 2,500), E was 1.1% (``fit``) and 0.5%
        (``partial_fit``) above the full-batch fit's at 50 rows per code, 2.8%
        and 1.9% when remembering one epoch, 4.0% and 2.9% never forgetting,
        and 1.9% and 1.5% at 25 rows per code, where the means get noisy
        (``benchmarks/streaming.py``).
    max_no_improvement : int, default=10
        Mini-batch fits stop once the smoothed batch error (an exponentially
        weighted average, as ``MiniBatchKMeans``) has not improved for this many
        consecutive batches; None disables the test, leaving ``tol`` and
        ``max_iter``. Full-batch fits stop on ``tol`` alone. Measured: 200,000
        blobs, K = 64, ``batch_size=4096`` stop after 4 epochs (186 steps)
        instead of running all 100. The rule stops once the error stalls, not
        once the alignment has done its work: from a far start (60,000 rows,
        K = 128, batches of 2,000) it stops after 5 epochs with E 1.3% above and
        C 2.0% below the full-batch fit's, where None (40 epochs, 4 times the
        time) ends within 0.1%; with 10^6 rows and K = 1024 C ends 2.9% below
        (``benchmarks/streaming.py``). Set None when every code's share matters
        more than time.
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

    def _validate_X(self, X, *, reset: bool):
        """The backend for X, and X validated: tensors stay tensors for the torch backend.

        A dask array or DataFrame becomes the persisted rows of a Dask fit
        (``skwvq._dask.DaskRows``); its values are checked in the fit's first
        pass, on the cluster.
        """
        nx = resolve_backend(self.backend, self.device, X)
        if is_dask_collection(X):
            if nx.__name__ == "torch":
                raise TypeError(
                    "A dask array is fitted by the numpy kernels on its workers; "
                    "use backend='auto' or 'numpy' without a device."
                )
            from ._dask import DaskRows

            # A dask DataFrame's feature names are those of its (empty) pandas meta.
            described = X._meta if hasattr(X, "columns") else X
            validate_data(self, described, skip_check_array=True, reset=reset)
            return nx, DaskRows(X)
        if is_tensor(X) and nx.__name__ == "torch":
            X = check_tensor(X)
            if reset:
                vars(self).pop("feature_names_in_", None)
                self.n_features_in_ = X.shape[1]
            elif X.shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {X.shape[1]} features, but {type(self).__name__} is "
                    f"expecting {self.n_features_in_} features as input."
                )
            return nx, X
        if sp.issparse(X) and nx.__name__ == "torch":
            raise TypeError(
                "Sparse X runs on the numpy backend only; backend='torch' (or a "
                "device) needs dense data: pass X.toarray() or a dense tensor, or "
                "use backend='numpy'."
            )
        X = validate_data(
            self,
            to_host(X),
            accept_sparse="csr",
            dtype=[np.float64, np.float32],
            reset=reset,
        )
        if sp.issparse(X):
            X = as_csr(X)
        return nx, X

    # ------------------------------------------------------------------ fit --
    def _method(self):
        """The alignment class and the target it matches the codes to."""
        method = ALIGNMENTS[self.alignment]
        return method, resolve_target(method, self.target)

    def _n_codes(self, n_samples: int) -> int:
        """``n_clusters`` with ``"auto"`` resolved for data of ``n_samples`` rows."""
        if self.n_clusters != "auto":
            return self.n_clusters
        if n_samples < AUTO_N_CLUSTERS:
            warnings.warn(
                f"n_clusters='auto' uses {AUTO_N_CLUSTERS} codes, but X has only "
                f"{n_samples} samples: one code per sample, {n_samples} codes, are "
                "used. Set n_clusters to choose the codebook size.",
                UserWarning,
                stacklevel=4,
            )
            return n_samples
        return AUTO_N_CLUSTERS

    def _check_fit_inputs(self, X, sample_weight, n_codes: int):
        """Validate everything that depends on the data before anything is computed."""
        n_samples, n_features = X.shape
        if n_samples < n_codes:
            raise ValueError(
                f"n_samples={n_samples} should be >= n_clusters={n_codes}."
            )
        dtype = numpy_dtype(X)
        sample_weight = _check_sample_weight(
            to_host(sample_weight),
            X,
            dtype=dtype,
            ensure_non_negative=True,
        )
        n_weighted = int(np.count_nonzero(sample_weight))
        if n_weighted < n_codes:
            raise ValueError(
                f"Only {n_weighted} samples have a positive sample_weight; "
                f"n_clusters={n_codes} codes need at least as many."
            )
        init = self.init
        if self._warm_started(n_features):
            init = self.codebook_
        elif not isinstance(init, str) and not callable(init):
            init = check_codebook(init, n_codes, n_features, dtype, "init array")
        return sample_weight, init, self._sample_size(n_samples, n_codes)

    def _needs_covariance(self) -> bool:
        """Whether the fit needs the data's covariance (else only its variances)."""
        return self.alignment == "gaussian" or (
            isinstance(self.init, str) and self.init == "gaussian"
        )

    def _warm_started(self, n_features: int) -> bool:
        """Whether ``fit`` goes on from the fitted codebook (``warm_start``), checked against X."""
        if not (self.warm_start and hasattr(self, "codebook_")):
            return False
        expected = (self.n_clusters_, n_features)
        if self.n_clusters not in ("auto", self.n_clusters_) or (
            self.codebook_.shape != expected
        ):
            raise ValueError(
                f"warm_start=True continues from the fitted codebook of shape "
                f"{self.codebook_.shape}, but n_clusters={self.n_clusters!r} and X "
                f"with {n_features} features ask for {expected[0]} x {n_features}. "
                "Set warm_start=False to start afresh."
            )
        return True

    def _sample_size(self, n_samples: int, n_codes: int) -> int | None:
        """Points of the OT sample (None for a method without one), checked for its size."""
        method, _ = self._method()
        size = method.default_sample_size(n_codes, n_samples)
        if size is not None and self.ot_sample_size is not None:
            size = min(self.ot_sample_size, n_samples)
        method.check_size(size, n_codes)
        return size

    def _schedule(self, epoch: int) -> float:
        """The alignment weight ``g`` of an epoch."""
        return self.alignment_weight * self.alignment_decay**epoch

    def _horizon(self, n_codes: int) -> float:
        """Rows that the running statistics of mini-batch fits and streams remember."""
        if self.stats_horizon is not None:
            return float(self.stats_horizon)
        return float(HORIZON_ROWS_PER_CODE * n_codes)

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
        with _unchanged_on_error(self):
            nx, X = self._validate_X(X, reset=True)
            warm = self._warm_started(X.shape[1])
            n_codes = self.n_clusters_ if warm else self._n_codes(X.shape[0])
            if hasattr(X, "scan"):
                # A Dask fit's first pass: finite values, weights and moments.
                sample_weight = X.scan(
                    sample_weight, covariance=self._needs_covariance()
                )
            sample_weight, init, sample_size = self._check_fit_inputs(
                X, sample_weight, n_codes
            )
            if callable(init) and hasattr(X, "array"):
                # As KMeans hands a callable init its X: the user's dask array.
                user_init = init
                init = lambda _, n_codes, rng: user_init(X.array, n_codes, rng)  # noqa: E731
            rng = check_random_state(self.random_state)
            codebook = initial_codebook(X, n_codes, init, sample_weight, rng)
            # A warm start goes on along the schedule where the earlier fits left it.
            start = vars(self).get("_schedule_epochs", 0) if warm else 0
            X = nx.place(X)
            weights = nx.asarray(sample_weight)
            with nx.solver_threads():
                method, target = self._method()
                alignment = method.from_data(
                    X,
                    weights,
                    n_codes=n_codes,
                    target=target,
                    sample_size=sample_size,
                    n_projections=self.n_projections,
                    rng=rng,
                    nx=nx,
                )
                n_samples = X.shape[0]
                stopping = StoppingRule(
                    shift_tol=self.tol * mean_feature_variance(X, weights),
                    epoch_rows=n_samples,
                )
                if self.batch_size is None or self.batch_size >= n_samples:
                    source, horizon = batch_source(nx, X, weights), None
                    stopping.settle = self.alignment_decay < 1
                else:
                    source = batch_source(nx, X, weights, self.batch_size)
                    horizon = self._horizon(n_codes)
                    stopping.max_no_improvement = self.max_no_improvement
                state = run(
                    SolverState(nx.asarray(codebook)),
                    source,
                    alignment,
                    schedule=lambda epoch: self._schedule(start + epoch),
                    max_epochs=self.max_iter,
                    horizon=horizon,
                    stopping=stopping,
                    rng=rng,
                    verbose=self.verbose,
                )
                labels, inertia, n_used = _final_assignment(
                    nx, X, state.codebook, weights
                )

        vars(self).pop("_stream", None)
        self._set_fitted(nx, state, labels, inertia)
        self._schedule_epochs = start + state.n_epochs
        if n_used < n_codes:
            # Re-seeding leaves a code unused only when no distinct row is left.
            warnings.warn(
                f"Number of distinct clusters ({n_used}) found smaller than "
                f"n_clusters ({n_codes}). Possibly due to duplicate points "
                "in X.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _set_fitted(self, nx, state: SolverState, labels, inertia: float) -> None:
        self.backend_ = nx.__name__
        self.device_ = str(nx.device)
        self.codebook_ = to_host(state.codebook)
        self.n_clusters_ = self.codebook_.shape[0]
        self.labels_ = to_host(labels)
        self.inertia_ = inertia
        self.n_iter_ = state.n_epochs
        self.n_steps_ = state.n_steps
        self.history_ = {k: np.asarray(v) for k, v in state.history.items()}

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
        if is_dask_collection(X):
            raise TypeError(
                "partial_fit takes one batch in memory. Fit a dask array with "
                "fit(X), or stream its blocks through partial_fit with "
                "dask_ml.wrappers.Incremental."
            )
        with _unchanged_on_error(self):
            fitted = hasattr(self, "codebook_")
            nx, X = self._validate_X(X, reset=not fitted)
            if fitted:
                sample_weight = _check_sample_weight(
                    to_host(sample_weight),
                    X,
                    dtype=self.codebook_.dtype,
                    ensure_non_negative=True,
                )
                n_codes = self.n_clusters_
            else:
                n_codes = self._n_codes(X.shape[0])
                sample_weight, init, _ = self._check_fit_inputs(
                    X, sample_weight, n_codes
                )
            # A copy, so that a step that fails leaves the stream as it was.
            stream = vars(self).get("_stream")
            if stream is not None:
                stream = stream.copy()
            else:
                rng = check_random_state(self.random_state)
                codebook = (
                    self.codebook_
                    if fitted
                    else initial_codebook(X, n_codes, init, sample_weight, rng)
                )
                stream = self._new_stream(rng, codebook, X.shape[1])
            alignment = stream.data.add(X, sample_weight, stream.rng, nx)
            stream.solver = stream.solver.to_backend(nx)
            X = nx.asarray(X, dtype=stream.solver.codebook.dtype)
            source = SingleBatch(nx, X, nx.asarray(sample_weight))
            with nx.solver_threads():
                run(
                    stream.solver,
                    source,
                    alignment,
                    schedule=self._schedule,
                    max_epochs=1,
                    horizon=self._horizon(n_codes),
                    rng=stream.rng,
                    verbose=self.verbose,
                )

        self._stream = stream
        self._set_fitted(nx, stream.solver, source.labels, source.last.error)
        return self

    def _new_stream(self, rng, codebook, n_features: int) -> _Stream:
        method, target = self._method()
        n_codes = codebook.shape[0]
        sample_size = self._sample_size(np.iinfo(np.int64).max, n_codes)
        data = method.data_stream(
            n_features,
            n_codes=n_codes,
            target=target,
            sample_size=sample_size,
            n_projections=self.n_projections,
        )
        return _Stream(rng, SolverState(codebook), data)

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
        return like_input(self.fit(X, sample_weight=sample_weight).labels_, X)

    # ------------------------------------------------------------ inference --
    def _validated(self, X):
        """The backend, X placed on it, and the codebook in X's dtype there."""
        check_is_fitted(self)
        nx, X = self._validate_X(X, reset=False)
        X = nx.place(X)
        return nx, X, nx.asarray(self.codebook_, dtype=numpy_dtype(X))

    @_lazy_on_dask
    def predict(self, X):
        """Index of the nearest code of each sample.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray or tensor of shape (n_samples,), dtype int64
            A tensor on X's device when X is a tensor.
        """
        nx, X_placed, codebook = self._validated(X)
        return like_input(nx.assign(X_placed, codebook).labels, X)

    @_lazy_on_dask
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
            (sparse CSR for ``"onehot"``) when X is a tensor.
        """
        nx, X_placed, codebook = self._validated(X)
        if self.encode == "distance":
            return like_input(nx.distances(X_placed, codebook), X)
        labels = nx.assign(X_placed, codebook).labels
        if self.encode == "quantized":
            if sp.issparse(X_placed):
                # Sparse in, sparse out: the codes' zeros stay implicit.
                return sp.csr_matrix(codebook)[to_host(labels)]
            return like_input(codebook[labels], X)
        if self.encode == "ordinal":
            return like_input(labels[:, None], X)
        n_samples = X_placed.shape[0]
        onehot = sp.csr_matrix(
            (
                np.ones(n_samples, dtype=numpy_dtype(X_placed)),
                to_host(labels),
                np.arange(n_samples + 1),
            ),
            shape=(n_samples, self.n_clusters_),
        )
        return like_input(onehot, X)

    @_lazy_on_dask
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
        if self.encode == "quantized":
            nx, X_placed, codebook = self._validated(X)
            return like_input(codebook[nx.assign(X_placed, codebook).labels], X)
        if is_tensor(X):
            return like_input(self.inverse_transform(to_host(X)), X)
        if self.encode == "ordinal":
            codes = check_array(X, dtype=None, input_name="X")
            if codes.shape[1] != 1 or not np.all(np.mod(codes, 1) == 0):
                raise ValueError("ordinal codes must be one column of integers.")
            codes = codes[:, 0].astype(np.int64)
            if codes.min() < 0 or codes.max() >= self.n_clusters_:
                raise ValueError(f"codes must lie in [0, {self.n_clusters_}).")
            return self.codebook_[codes]
        encoded = check_array(X, accept_sparse="csr", dtype=None, input_name="X")
        if encoded.shape[1] != self.n_clusters_:
            raise ValueError(
                f"X has {encoded.shape[1]} columns; {self.encode!r} codes have "
                f"n_clusters={self.n_clusters_}."
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
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            ``-inertia`` on X, as ``KMeans.score``; greater is better.
        """
        if is_dask_collection(X):
            from . import _dask

            check_is_fitted(self)
            return _dask.score(self, X, sample_weight)
        nx, X, codebook = self._validated(X)
        sample_weight = _check_sample_weight(
            to_host(sample_weight),
            X,
            dtype=numpy_dtype(X),
            ensure_non_negative=True,
        )
        distances = nx.assign(X, codebook).sq_distances
        return -float(nx.sum(nx.asarray(sample_weight) * distances))

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
