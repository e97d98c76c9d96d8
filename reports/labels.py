"""Names and units of attack parameters, read from the attack registry (one source of truth).

Attacks that are not registered (an id from an old results file, an attack module not built yet) fall
back to the generic name ``param`` with no unit, so rendering never depends on the attack code.
"""

from __future__ import annotations

import math
from functools import cache

from bench.registry import UnknownIdError
from reports.format import MISSING, format_param


@cache
def param_name_unit(attack: str) -> tuple[str, str]:
    """``(parameter name, unit)`` of an attack, e.g. ``('quality', '')`` for jpeg."""
    if attack in ("", "none"):
        return ("param", "")
    try:
        from attacks.registry import get_attack

        spec = get_attack(attack)
    except (UnknownIdError, ImportError):
        return ("param", "")
    return (spec.param, spec.unit)


def param_axis_label(attack: str) -> str:
    """Axis label such as ``'std [intensity in [0,1]]'`` or ``'quality'``."""
    name, unit = param_name_unit(attack)
    return f"{name} [{unit}]" if unit else name


def param_text(attack: str, value: float) -> str:
    """A table cell such as ``'quality 50'``; the clean measurement (NaN) shows a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    name, unit = param_name_unit(str(attack))
    text = format_param(value)
    text = text if name == "param" else f"{name} {text}"
    return f"{text} {unit}" if unit and len(unit) <= 6 else text
