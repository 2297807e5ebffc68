"""skwvq: vector quantization by distributional matching, as scikit-learn estimators: one codebook, residual and product codebooks."""

from .estimator import WassersteinVQ
from .metrics import (
    codebook_perplexity,
    codebook_utilization,
    get_scorer,
    perplexity_per_level,
    quantization_error,
    utilization_per_level,
    vq_scores,
    wasserstein_distance,
)
from .product import ProductWassersteinVQ
from .residual import ResidualWassersteinVQ

__all__ = [
    "ProductWassersteinVQ",
    "ResidualWassersteinVQ",
    "WassersteinVQ",
    "codebook_perplexity",
    "codebook_utilization",
    "get_scorer",
    "perplexity_per_level",
    "quantization_error",
    "utilization_per_level",
    "vq_scores",
    "wasserstein_distance",
]
__version__ = "0.1.0"
