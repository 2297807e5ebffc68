"""``WassersteinQuantizer``: a PyTorch VQ layer whose codebook follows the estimator's update, for training tokenizers without codebook collapse.

The layer drops in where vector-quantize-pytorch's ``VectorQuantize(dim,
codebook_size)`` stands: forward returns ``(quantized, indices, loss)`` with a
straight-through estimator and a commitment loss. In training mode it does not
leave the codebook to an optimizer: every forward gathers the batch's per-code
counts and sums (``skwvq._statistics.block_statistics``) and running statistics of
the features, and moves the codebook by the estimator's own step
(``skwvq._solver.step``), the minimiser of ``J = (1 - g) E + g W^2`` for the
running statistics, so that codes no feature reaches follow their transport
target back into the features. Under ``torch.distributed`` every statistic is
all-reduced, so all ranks hold the same codebook. ``update="gradient"`` is the
paper's variant instead: the codebook is an ``nn.Parameter`` trained by the
optimizer on the codebook loss plus ``g`` times the Gaussian ``W^2`` to the
(detached) running feature moments.

Importing this package needs torch; ``import skwvq`` does not. Modules:
``_layer`` (the layer: forward, update, re-seeding, usage, the round trip
with the estimator), ``_shapes`` (the forward contract on shapes and masks),
``_losses`` (the commitment loss and the gradient variant's terms),
``_reseeding`` (dead codes onto the batch's rows), ``_settings`` (the
constructor's arguments, checked),
``_distributed`` (its collectives under ``torch.distributed``) and
``_streams`` (its data side: the alignment's stream in the layer's buffers).
"""

from ._layer import WassersteinQuantizer
from ._losses import gaussian_w2_loss

__all__ = ["WassersteinQuantizer", "gaussian_w2_loss"]
