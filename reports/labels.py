"""Names, units and neutral values of attack parameters, as the run that measured them wrote them into
its manifest (``manifest["attacks"]``), so a report renders from results.csv and manifest.json alone and
an old run renders with today's code. An attack the manifest does not describe (a run from before the
manifest carried them, a results.csv without a manifest) falls back to the generic name ``param``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from fpbench.reports.format import MISSING, format_param


@dataclass(frozen=True)
class AttackLabel:
    param: str = "param"  # what the attack's parameter measures, e.g. "quality"
    unit: str = ""
    neutral: float | None = None  # the parameter value that leaves the input unchanged, if any


GENERIC = AttackLabel()
AttackLabels = Mapping[str, AttackLabel]


def attack_labels(manifest: Mapping | None) -> dict[str, AttackLabel]:
    """``{attack id: AttackLabel}`` from ``manifest["attacks"]`` (entries with ``param``, ``unit``,
    ``neutral``); entries that are not mappings are skipped."""
    attacks = (manifest or {}).get("attacks")
    if not isinstance(attacks, Mapping):
        return {}
    out = {}
    for attack, entry in attacks.items():
        if isinstance(entry, Mapping):
            neutral = entry.get("neutral")
            out[str(attack)] = AttackLabel(str(entry.get("param") or "param"), str(entry.get("unit") or ""),
                                           float(neutral) if isinstance(neutral, (int, float)) else None)
    return out


def param_name_unit(attack: str, labels: AttackLabels | None = None) -> tuple[str, str]:
    """``(parameter name, unit)`` of an attack, e.g. ``('quality', '')`` for jpeg."""
    label = (labels or {}).get(str(attack), GENERIC)
    return (label.param, label.unit)


def param_axis_label(attack: str, labels: AttackLabels | None = None) -> str:
    """Axis label such as ``'std [intensity in [0,1]]'`` or ``'quality'``."""
    name, unit = param_name_unit(attack, labels)
    return f"{name} [{unit}]" if unit else name


def param_text(attack: str, value: float, labels: AttackLabels | None = None) -> str:
    """A table cell such as ``'quality 50'``; the clean measurement (NaN) shows a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    name, unit = param_name_unit(str(attack), labels)
    text = format_param(value)
    text = text if name == "param" else f"{name} {text}"
    return f"{text} {unit}" if unit and len(unit) <= 6 else text
