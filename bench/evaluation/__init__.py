"""Evaluation loops that turn attacks + decoders into tidy result rows."""

from bench.evaluation.image_robustness import evaluate_image_attacks, image_attack_grid
from bench.evaluation.measure import FPRS, TPR_ANALYTIC, TPR_EMPIRICAL, Registered, match_rows
from bench.evaluation.operating_points import FpbenchWarning, SmallSampleWarning, tpr_at_fpr

__all__ = ["FPRS", "TPR_ANALYTIC", "TPR_EMPIRICAL", "FpbenchWarning", "Registered", "SmallSampleWarning",
           "evaluate_image_attacks", "image_attack_grid", "match_rows", "tpr_at_fpr"]
