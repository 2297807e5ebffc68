"""``WassersteinQuantizer``, the PyTorch VQ layer: forward, the estimator's step on running statistics, usage, the round trip with the estimator."""

from __future__ import annotations

import math

import numpy as np
import torch
from sklearn.utils import check_random_state
from torch import nn

from .._inputs import as_rows
from .._solver import HORIZON_ROWS_PER_CODE, retained_fraction, step
from .._statistics import (
    CodeStatistics,
    block_statistics,
    perplexity_from_counts,
    utilization_from_counts,
)
from ..alignment import (
    ALIGNMENTS,
    resolve_target,
)
from ..backends import backend_of, to_host
from ..estimator import WassersteinVQ
from ..initialization import initial_codebook
from ._distributed import gather_rows, shared_generator, statistics_over_ranks
from ._losses import layer_loss
from ._reseeding import reseed_on_batch
from ._settings import check_init, check_settings
from ._shapes import flatten, row_weights
from ._streams import LayerDataSide


class WassersteinQuantizer(nn.Module):
    """Vector-quantization layer whose codes are kept matched to the features' distribution.

    Parameters
    ----------
    dim : int
        Feature dimension (the last axis, or the channel axis of an image
        feature map).
    codebook_size : int
        Number of codes K.
    init : {"auto", "k-means++", "random", "gaussian"}, callable, array or tensor of shape (codebook_size, dim), default="auto"
        As the estimator's ``init``. A string or callable is applied to the
        first training batch (all ranks' features, so every rank draws the same
        codebook); an array or tensor is the codebook from the start.
    alignment : {"gaussian", "sliced"}, default="gaussian"
        ``"gaussian"``: targets from running moments ``n, sum z, sum z z^T``
        (exact under all-reduce); ``"sliced"``: targets from a queue of recent
        features, whose sorted projections are rebuilt each time the queue has
        been renewed.
    target : {"auto", "quantization-optimal", "data"}, default="auto"
        As the estimator's, but ``"auto"`` is ``"data"`` for both alignments:
        in a network the features follow the codes (the commitment loss pulls
        them there), and the quantization-optimal target, which spreads the
        codes wider than the features, made the two grow together without
        bound (measured: :doc:`/tokenizer`).
    alignment_weight : float in [0, 1], default=0.02
        ``g`` in ``J = (1 - g) E + g W^2``, constant over training (the features
        move, so the alignment never stops being needed). A code follows its
        target rather than its own features while these weigh less than
        ``g / (1 - g)`` times the layer's memory per code (50 rows); the
        Gaussian target of clustered features can lie between the clusters,
        where no feature comes: 0.02 keeps the codes in use where 0.05 left
        some stranded (measured: :doc:`/tokenizer`).
    decay : float in [0, 1) or None, default=None
        Fraction of the running per-code statistics and feature moments kept at
        each step. None: ``1 - rows / (50 K)``, the estimator's memory of 50
        rows per code (``stats_horizon``).
    commitment_weight : float, default=1.0
        Weight of ``||z - sg(q)||^2`` in the returned loss.
    update : {"statistics", "gradient"}, default="statistics"
        ``"statistics"``: the estimator's update in each training forward, no
        gradient reaches the codebook. ``"gradient"``: the paper's variant; the
        codebook is a parameter, and the loss adds ``||sg(z) - q||^2`` and
        ``alignment_weight * W^2`` (``gaussian_w2_loss`` against the detached
        running feature moments); give the layer's parameters to the optimizer.
    dead_code_threshold : float, default=1.0
        Codes whose running count falls below this many rows (less than one row
        in the layer's memory, by default) are moved onto distinct feature rows
        of the batch drawn uniformly, after the alignment has had its chance,
        and credited with ``max(1, dead_code_threshold)`` rows so that they
        are not moved again before features can reach them. 0 turns re-seeding
        off.
    queue_size : int, default=None
        Recent features kept (all ranks' together) for the sliced alignment:
        ``max(4 K, 4096)`` if None; unused by the Gaussian alignment.
    n_projections : int, default=None
        Directions of the sliced alignment (its default if None).
    accept_image_fmap : bool, default=False
        Forward takes ``(B, C, H, W)`` feature maps (``C == dim``).
    random_state : int or None, default=None
        Seeds the initial codebook, the directions and re-seeding (the same on
        every rank).

    Attributes
    ----------
    codebook : tensor of shape (codebook_size, dim)
        The current codes.
    batch_metrics : dict
        E, U and C of the last training batch (all ranks together).

    Examples
    --------
    >>> import torch
    >>> from skwvq.nn import WassersteinQuantizer
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> vq = WassersteinQuantizer(dim=8, codebook_size=64, random_state=0)
    >>> z = torch.randn(4, 100, 8, requires_grad=True)
    >>> quantized, indices, loss = vq(z)
    >>> quantized.shape, indices.shape, loss.shape
    (torch.Size([4, 100, 8]), torch.Size([4, 100]), torch.Size([]))
    >>> quantized, indices, _ = vq.eval()(z)
    >>> quantized.equal(vq.get_output_from_indices(indices))
    True
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        *,
        init="auto",
        alignment: str = "gaussian",
        target: str = "auto",
        alignment_weight: float = 0.02,
        decay: float | None = None,
        commitment_weight: float = 1.0,
        update: str = "statistics",
        dead_code_threshold: float = 1.0,
        queue_size: int | None = None,
        n_projections: int | None = None,
        accept_image_fmap: bool = False,
        random_state: int | None = None,
    ):
        super().__init__()
        check_settings(
            alignment=alignment,
            update=update,
            alignment_weight=alignment_weight,
            decay=decay,
        )
        self.dim, self.codebook_size = int(dim), int(codebook_size)
        self.init = init
        self.alignment = alignment
        self.method = ALIGNMENTS[alignment]
        self.target = (
            "data" if target == "auto" else resolve_target(self.method, target)
        )
        self.alignment_weight = float(alignment_weight)
        self.decay = decay
        self.commitment_weight = float(commitment_weight)
        self.update = update
        self.dead_code_threshold = float(dead_code_threshold)
        self.queue_size = (
            max(4 * self.codebook_size, 4096) if queue_size is None else int(queue_size)
        )
        self.n_projections = n_projections
        self.accept_image_fmap = accept_image_fmap
        self.random_state = random_state
        self._rng = check_random_state(random_state)
        self._synchronized = False

        start = check_init(init, self.codebook_size, self.dim)
        codebook = torch.zeros(self.codebook_size, self.dim) if start is None else start
        if update == "gradient":
            self.codebook_parameter = nn.Parameter(codebook)
        else:
            self.register_buffer("codebook_buffer", codebook)
        K, d = self.codebook_size, self.dim
        f64 = torch.float64
        self.register_buffer("initialized", torch.tensor(start is not None))
        self.register_buffer("running_counts", torch.zeros(K, dtype=f64))
        self.register_buffer("running_sums", torch.zeros(K, d, dtype=f64))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))
        self.register_buffer("usage", torch.zeros(K, dtype=f64))
        self._data_side = LayerDataSide(
            self.method,
            codebook_size=K,
            target=self.target,
            queue_size=self.queue_size,
            n_projections=n_projections,
        )
        self._data_side.register(self, d)
        self._last_batch = None

    # ------------------------------------------------------------ codebook --
    @property
    def codebook(self):
        """The current codes, shape ``(codebook_size, dim)``."""
        if self.update == "gradient":
            return self.codebook_parameter
        return self.codebook_buffer

    def _set_codebook(self, codebook) -> None:
        with torch.no_grad():
            self.codebook.copy_(codebook.to(self.codebook.dtype))

    # ------------------------------------------------------------- forward --
    def forward(self, x, mask=None, lens=None, *, freeze_codebook: bool = False):
        """Quantize ``x``; in training mode also update the codebook (statistics mode).

        Parameters
        ----------
        x : tensor of shape (B, dim), (B, N, dim), or (B, dim, H, W) with ``accept_image_fmap``
            float16 and bfloat16 features are quantized in float32.
        mask : bool tensor of shape (B, N) (or (B, H, W)), default=None
            True where a position is real; padded positions are quantized but
            take no part in the statistics, the usage or the loss.
        lens : int tensor of shape (B,), default=None
            Sequence lengths, another way to give ``mask`` for (B, N, dim).
        freeze_codebook : bool, default=False
            Quantize without updating anything (codebook, statistics, usage),
            even in training mode.

        Returns
        -------
        quantized : tensor shaped as ``x``
            The codes, with the straight-through gradient of ``x``.
        indices : long tensor of shape (B,), (B, N) or (B, H, W)
        loss : tensor of shape ()
            ``commitment_weight * ||x - sg(q)||^2`` (mean over positions in use);
            in gradient mode also the codebook and W2 terms.
        """
        flat, (restore, restore_indices) = flatten(x, self.dim, self.accept_image_fmap)
        weights = row_weights(x, mask, lens, self.accept_image_fmap)
        features = flat.detach().to(torch.float32)
        learning = self.training and not freeze_codebook
        if learning and not self._synchronized:
            # Re-seeding and the sliced directions draw from it: every rank the same.
            self._rng = shared_generator(self._rng, self.usage.device)
            self._synchronized = True
        if learning and not bool(self.initialized):
            self._initialize(features, weights)
        nx = backend_of(features)
        codebook = self.codebook.detach()
        statistics, labels = block_statistics(nx, features, codebook, weights)
        if learning:
            statistics = statistics_over_ranks(statistics)
            self._record(statistics)
            self._observe(features, weights, statistics.weight)
            if self.update == "statistics":
                self._update(statistics, nx, features, weights, labels)
        quantized_rows = self.codebook[labels]
        loss = self._loss(flat, quantized_rows, weights)
        # Straight through: the value of q exactly (x - sg(x) is exactly 0) and
        # the gradient of x; the gradient variant's codebook term has taken its
        # gradient of q in the loss above.
        quantized_rows = quantized_rows.detach().to(flat.dtype) + (flat - flat.detach())
        return restore(quantized_rows), restore_indices(labels), loss

    def _loss(self, flat, quantized_rows, weights):
        """The commitment term; in gradient mode the codebook and W2 terms too."""
        moments = None
        if self.update == "gradient" and self.training and self.alignment_weight > 0:
            moments = self._data_side.moments(self)
        return layer_loss(
            flat,
            quantized_rows,
            weights,
            commitment_weight=self.commitment_weight,
            codebook=self.codebook
            if self.update == "gradient" and self.training
            else None,
            moments=moments,
            alignment_weight=self.alignment_weight,
        )

    # -------------------------------------------------------- the update --
    def _initialize(self, features, weights):
        """Draw the codebook from the first batch of every rank (the same on all)."""
        rows = features if weights is None else features[weights > 0]
        rows = gather_rows(rows)
        if rows.shape[0] < self.codebook_size:
            raise ValueError(
                f"The first training batch has {rows.shape[0]} feature rows, fewer "
                f"than codebook_size={self.codebook_size}: init={self.init!r} draws "
                "the codebook from it. Pass a larger batch or an init tensor."
            )
        drawn = initial_codebook(
            as_rows(rows.cpu().numpy(), backend="numpy"),
            self.codebook_size,
            self.init,
            self._rng,
        )
        self._set_codebook(torch.as_tensor(np.asarray(drawn)))
        self.initialized.fill_(True)

    def _record(self, statistics) -> None:
        """Usage histogram; the batch's statistics for ``batch_metrics``."""
        self.usage += statistics.counts
        self._last_batch = statistics

    @property
    def batch_metrics(self) -> dict:
        """E, U and C of the last training batch (all ranks together).

        Computed when read, from the statistics the update gathered, so that
        the training step pays nothing for them.
        """
        statistics = self._last_batch
        if statistics is None:
            return {}
        counts, weight = to_host(statistics.counts), statistics.weight
        return {
            "E": statistics.error / weight if weight else math.nan,
            "U": utilization_from_counts(counts),
            "C": perplexity_from_counts(counts) if counts.sum() > 0 else math.nan,
        }

    def _retained(self, rows: float) -> float:
        """Fraction of the running statistics kept when ``rows`` new rows arrive."""
        if self.decay is not None:
            return self.decay
        return retained_fraction(rows, HORIZON_ROWS_PER_CODE * self.codebook_size)

    def _observe(self, features, weights, rows: float) -> None:
        """Fold the batch into the alignment's data side; ``rows`` counts all ranks'."""
        if rows <= 0:
            return
        kept = features if weights is None else features[weights > 0]
        self._data_side.observe(self, kept, self._retained(rows))

    @property
    def queue(self):
        """The recent features (all ranks') that the sliced alignment transports to; empty for the Gaussian alignment."""
        reservoir = self._data_side.stream.reservoir
        if reservoir is None:
            return self.usage.new_zeros((0, self.dim), dtype=torch.float32)
        return reservoir.sample(self._data_side.state(self))[0]

    @torch.no_grad()
    def _update(self, statistics, nx, features, weights, labels) -> None:
        """The estimator's step on the running statistics, then re-seeding of dead codes."""
        if statistics.weight <= 0:  # every row masked, on every rank
            return
        previous = CodeStatistics(
            self.running_counts,
            self.running_sums,
            0.0,
            float(self.running_counts.sum()),
            0,
        )
        # Dead codes are re-seeded below, by the running-count rule, on the batch.
        updated, running, _ = step(
            self.codebook.detach().to(torch.float64),
            statistics,
            self._data_side.alignment(self, rng=self._rng, nx=nx),
            self.alignment_weight,
            running=previous,
            retain=self._retained(statistics.weight),
            reseed=False,
        )
        self.running_counts.copy_(running.counts)
        self.running_sums.copy_(running.sums)
        if self.dead_code_threshold > 0:
            dead = to_host(self.running_counts) < self.dead_code_threshold
            if dead.any():
                placed = reseed_on_batch(
                    updated, dead, features, weights, labels, self._rng
                )
                moved = (placed != updated).any(1)
                # Credited with at least the threshold: a code placed on a
                # feature row keeps its place until features reach it instead
                # of being placed again at every batch that happens to miss it.
                credit = max(1.0, self.dead_code_threshold)
                self.running_counts[moved] = credit
                self.running_sums[moved] = credit * placed[moved]
                updated = placed
        self._set_codebook(updated)
        self.steps += 1

    # ------------------------------------------------------------- decode --
    def get_output_from_indices(self, indices):
        """The codes of ``indices`` (the decoder of forward), shaped ``indices.shape + (dim,)``, or a feature map with ``accept_image_fmap``."""
        codes = self.codebook[indices]
        if self.accept_image_fmap:
            return codes.permute(0, 3, 1, 2)
        return codes

    # -------------------------------------------------------------- usage --
    def utilization(self) -> float:
        """Share of codes used since the last ``reset_usage`` (over all ranks)."""
        return utilization_from_counts(to_host(self.usage))

    def perplexity(self) -> float:
        """Perplexity of code usage since the last ``reset_usage``."""
        usage = to_host(self.usage)
        return perplexity_from_counts(usage) if usage.sum() > 0 else math.nan

    def dead_codes(self):
        """Indices of the codes unused since the last ``reset_usage``."""
        return torch.nonzero(self.usage == 0).flatten()

    def reset_usage(self) -> None:
        """Start a new usage histogram (e.g. at the start of an epoch)."""
        self.usage.zero_()

    # ------------------------------------------------ estimator round trip --
    @classmethod
    def from_estimator(cls, estimator, **kwargs) -> WassersteinQuantizer:
        """A layer starting from a fitted ``WassersteinVQ``'s codebook and settings.

        ``alignment`` (sliced or gaussian; exact becomes sliced), ``target``,
        ``alignment_weight`` and ``random_state`` are taken from the estimator
        unless given in ``kwargs``.
        """
        codebook = np.asarray(estimator.codebook_)
        method = ALIGNMENTS[estimator.alignment]
        settings = dict(
            alignment=estimator.alignment if method.for_layers else "sliced",
            target=estimator.target,
            alignment_weight=estimator.alignment_weight,
            random_state=estimator.random_state,
        )
        settings.update(kwargs)
        return cls(codebook.shape[1], codebook.shape[0], init=codebook, **settings)

    def to_estimator(self, X=None):
        """A fitted ``WassersteinVQ`` holding this layer's codebook.

        Parameters
        ----------
        X : array or tensor of shape (n_samples, dim), default=None
            Features whose labels and inertia the estimator reports
            (``labels_``, ``inertia_``); without them ``labels_`` is empty and
            ``inertia_`` NaN.

        Returns
        -------
        WassersteinVQ
            Fitted: ``predict``, ``transform`` and ``score`` use the layer's codes.
        """
        estimator = WassersteinVQ.from_codebook(
            self.codebook.detach().cpu().numpy(),
            X,
            alignment=self.alignment,
            target=self.target,
            alignment_weight=self.alignment_weight,
            random_state=self.random_state,
        )
        estimator.n_steps_ = int(self.steps)
        return estimator
