"""The baseline registry: id -> estimator class (e.g. ``BASELINES.get("yu2019")(epochs=5)``)."""

from __future__ import annotations

from bench.registry import Registry

BASELINES: Registry[type] = Registry("baseline")
