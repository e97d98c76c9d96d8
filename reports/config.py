"""How the report reads naming conventions in a results table (which rows are clean counterparts, which
model is fingerprinted real data, which metrics go in which table). Frozen, so a render is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReportConfig:
    """Conventions the renderer relies on; the defaults follow DESIGN.md.

    A *clean counterpart* is a generator trained on unfingerprinted data. Its rows are recognised by a
    model id ending in ``clean_model_suffix`` (``progan_clean`` pairs with ``progan``) or by the method id
    ``clean_method`` (then it pairs with the same model id under any other method). Its FID is shown next
    to the fingerprinted model's FID in the transfer table (paper Table 1: FID original -> fingerprinted).
    """

    fingerprint_method: str = "artificial_fingerprint"
    baseline_methods: tuple[str, ...] = ("yu2019", "wang2020", "frank2020", "durall2020", "marra2019")
    data_model: str = "data"
    clean_model_suffix: str = "_clean"
    clean_method: str = "clean"
    transfer_metrics: tuple[str, ...] = (
        "bit_accuracy", "p_value", "log10_p_value", "pass_rate", "false_positive_rate",
        "control_bit_accuracy", "psnr", "ssim", "fid",
    )
    detection_metrics: tuple[str, ...] = ("detection_accuracy", "attribution_accuracy", "auc", "tpr_at_fpr")

    def method_rank(self, method: str) -> tuple[int, str]:
        """Fingerprint method first, then the baselines in paper order, then the rest alphabetically."""
        order = (self.fingerprint_method, *self.baseline_methods)
        return (order.index(method), method) if method in order else (len(order), method)

    def model_rank(self, model: str) -> tuple[int, str]:
        """Generators alphabetically, clean counterparts after them, fingerprinted real data last."""
        if model == self.data_model:
            return (2, model)
        if self.clean_model_suffix and model.endswith(self.clean_model_suffix):
            return (1, model)
        return (0, model)


DEFAULT_CONFIG = ReportConfig()
