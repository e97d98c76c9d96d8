"""Evaluation loops that turn attacks + decoders into tidy result rows."""

from bench.evaluation.image_robustness import (
    FPRS,
    TPR_ANALYTIC,
    TPR_EMPIRICAL,
    evaluate_image_attacks,
    image_attack_grid,
)
from bench.evaluation.operating_points import FpbenchWarning, SmallSampleWarning

__all__ = ["FPRS", "TPR_ANALYTIC", "TPR_EMPIRICAL", "FpbenchWarning", "SmallSampleWarning",
           "evaluate_image_attacks", "image_attack_grid"]
