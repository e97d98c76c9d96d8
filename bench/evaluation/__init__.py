"""Evaluation loops that turn attacks + decoders into tidy result rows."""

from bench.evaluation.image_robustness import FPRS, evaluate_image_attacks, image_attack_grid, tpr_metric
from bench.evaluation.operating_points import FpbenchWarning, SmallSampleWarning

__all__ = ["FPRS", "FpbenchWarning", "SmallSampleWarning", "evaluate_image_attacks", "image_attack_grid",
           "tpr_metric"]
