"""How the report reads naming conventions in a results table (which rows are clean counterparts, which
model is fingerprinted real data, which metrics go in which table). Frozen, so a render is reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from fpbench.reports.labels import AttackLabel, attack_labels


@dataclass(frozen=True)
class ReportConfig:
    """Conventions the renderer relies on; the defaults follow DESIGN.md and bench/presets.py.

    A *clean counterpart* is a generator trained on unfingerprinted data (``dcgan-clean``). Its rows are
    recognised by an id listed in ``clean_models``, an id matching ``clean_model_pattern``, or the method
    id ``clean_method``. It pairs with every fingerprinted generator of the same *family*: the
    architecture given in ``model_arch`` (read from the manifest), else the id with
    ``instance_pattern`` stripped (``dcgan-s1`` and ``dcgan-clean`` are both ``dcgan``). Its FID is
    shown beside theirs in the transfer table (paper Table 1: FID original -> fingerprinted).
    """

    fingerprint_method: str = "artificial_fingerprint"
    baseline_methods: tuple[str, ...] = ("yu2019", "wang2020", "frank2020", "durall2020", "marra2019")
    baseline_variants: tuple[str, ...] = ("+immunised",)  # suffixes of a baseline's variants (yu2019+immunised)
    own_default_suffix: str = "@default"  # ``lsb@default``: method ``lsb`` at its own default strength
    data_model: str = "data"
    real_model: str = "real"
    clean_method: str = "clean"
    clean_models: tuple[str, ...] = ()
    clean_model_pattern: str = r"[-_]clean$"
    instance_pattern: str = r"[-_](s\d+|clean)$"
    model_arch: tuple[tuple[str, str], ...] = ()
    transfer_metrics: tuple[str, ...] = (
        "bit_accuracy", "p_value", "log10_p_value", "pass_rate", "false_positive_rate",
        "control_bit_accuracy", "psnr", "ssim", "fid",
    )
    detection_metrics: tuple[str, ...] = ("detection_accuracy", "attribution_accuracy", "auc", "tpr_at_fpr",
                                          "tpr_at_fpr_analytic")
    attacks: tuple[tuple[str, AttackLabel], ...] = ()  # parameter names and units, from the manifest
    # quality budgets of the headline's "most damaging attack" (reports.headline)
    image_psnr_budget: float = 25.0   # dB, attacked image against the unattacked one
    model_fid_factor: float = 2.0     # FID under this multiple of the unattacked model's
    adaptive_psnr_budget: float = 30.0  # dB

    @property
    def attack_labels(self) -> dict[str, AttackLabel]:
        return dict(self.attacks)

    def is_clean(self, model: str, method: str = "") -> bool:
        """Whether rows of this model (under this method) belong to a clean counterpart generator."""
        return (method == self.clean_method or model in self.clean_models
                or bool(self.clean_model_pattern and re.search(self.clean_model_pattern, model)))

    def is_baseline(self, method: str) -> bool:
        """Whether a method id is a baseline classifier (or a variant of one), not a fingerprinting method."""
        return method in self.baseline_methods or any(
            method.endswith(v) and method[: -len(v)] in self.baseline_methods for v in self.baseline_variants)

    def own_default_of(self, method: str) -> str | None:
        """The method whose own-default-strength rows these are (``'lsb'`` for ``'lsb@default'``), else None."""
        suffix = self.own_default_suffix
        return method[: -len(suffix)] if suffix and method.endswith(suffix) and len(method) > len(suffix) else None

    def family(self, model: str) -> str:
        """Architecture of a generator id: from ``model_arch`` if known, else the id minus its instance."""
        arch = dict(self.model_arch)
        if model in arch:
            return arch[model]
        return re.sub(self.instance_pattern, "", model) if self.instance_pattern else model

    def method_rank(self, method: str) -> tuple[int, str]:
        """Fingerprint method first, then the baselines in paper order, then the rest alphabetically."""
        order = (self.fingerprint_method, *self.baseline_methods)
        return (order.index(method), method) if method in order else (len(order), method)

    def model_rank(self, model: str) -> tuple[int, str]:
        """Generators alphabetically, clean counterparts after them, then fingerprinted and clean real data."""
        if model == self.data_model:
            return (2, model)
        if model == self.real_model:
            return (3, model)
        return (1, model) if self.is_clean(model) else (0, model)

    def with_manifest(self, manifest: Mapping | None) -> ReportConfig:
        """Read attack parameter labels from ``manifest['attacks']``, and clean generator ids and
        architectures from the run config's generators (``manifest['config']['zoo']['generators']``; manifests
        before the run config had stages: ``manifest['config']['generators']``), entries with ``id``,
        ``arch``, ``fingerprinted``, when the manifest has them."""
        labels = attack_labels(manifest)
        self = replace(self, attacks=tuple({**self.attack_labels, **labels}.items())) if labels else self
        config = (manifest or {}).get("config")
        config = config if isinstance(config, Mapping) else {}
        zoo = config.get("zoo")
        generators = zoo.get("generators") if isinstance(zoo, Mapping) else config.get("generators")
        if not isinstance(generators, list):
            return self
        entries = [g for g in generators if isinstance(g, Mapping) and isinstance(g.get("id"), str)]
        clean = tuple(g["id"] for g in entries if g.get("fingerprinted") is False)
        arch = tuple((g["id"], str(g["arch"])) for g in entries if g.get("arch"))
        return replace(self, clean_models=tuple(dict.fromkeys(self.clean_models + clean)),
                       model_arch=self.model_arch + arch)


DEFAULT_CONFIG = ReportConfig()
