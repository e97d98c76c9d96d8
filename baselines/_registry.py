"""The baseline registry: id -> estimator class (e.g. ``BASELINES.get("yu2019")(epochs=5)``)."""

from __future__ import annotations

from fpbench.registry import Registry

BASELINES: Registry[type] = Registry("baseline")
