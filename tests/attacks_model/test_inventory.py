"""Inventory of model attacks: an id that disappears, or a grid/parameter that changes without a version
bump and an edit of ``model_attack_inventory.json``, fails here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from attacks.registry import AttackKind, load_all

INVENTORY = json.loads((Path(__file__).parent / "model_attack_inventory.json").read_text())


def _entry(spec) -> dict:
    return {
        "param": spec.param, "unit": spec.unit, "grid": list(spec.grid), "neutral": spec.neutral,
        "domain": [None if math.isinf(d) else d for d in spec.domain], "integer": spec.integer,
        "category": spec.category, "version": spec.version,
    }


class TestModelAttackInventory:
    def test_registered_model_ids_match_the_inventory(self):
        registered = {i for i, s in load_all().items() if s.kind is AttackKind.MODEL}
        assert registered == set(INVENTORY), (
            f"missing: {sorted(set(INVENTORY) - registered)}, new: {sorted(registered - set(INVENTORY))}"
        )

    @pytest.mark.parametrize("attack_id", sorted(INVENTORY))
    def test_entry_unchanged(self, attack_id):
        assert _entry(load_all().get(attack_id)) == INVENTORY[attack_id]
