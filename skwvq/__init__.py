"""skwvq: vector quantization by distributional matching, as a scikit-learn estimator."""

from .estimator import WassersteinVQ
from .metrics import (
    codebook_perplexity,
    codebook_utilization,
    get_scorer,
    quantization_error,
    vq_scores,
    wasserstein_distance,
)

__all__ = [
    "WassersteinVQ",
    "codebook_perplexity",
    "codebook_utilization",
    "get_scorer",
    "quantization_error",
    "vq_scores",
    "wasserstein_distance",
]
__version__ = "0.1.0"
