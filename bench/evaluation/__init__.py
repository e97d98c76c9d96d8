"""Measurement: decoded bits, registered fingerprints and negatives into result rows; operating points."""

from fpbench.evaluation.measure import FPRS, TPR_ANALYTIC, TPR_EMPIRICAL, Registered, match_rows
from fpbench.evaluation.operating_points import FpbenchWarning, SmallSampleWarning, tpr_at_fpr

__all__ = ["FPRS", "TPR_ANALYTIC", "TPR_EMPIRICAL", "FpbenchWarning", "Registered", "SmallSampleWarning",
           "match_rows", "tpr_at_fpr"]
