"""Inventory of the one attack registry (image, model and adaptive): an id that disappears, or an entry
(kind, parameter, grid, domain, version, ...) that changes without a deliberate edit of
``attack_inventory.json``, fails here.

A new attack, or a changed definition (which must also bump its ``version``), is added to the JSON by
hand; the failure message prints the entry to paste. A renamed parameter (``ratio`` -> ``kept_side``) or
context field is an edit of the JSON without a version bump: the numbers do not move.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from fpbench.attacks.registry import AttackSpec, load_all

INVENTORY_FILE = Path(__file__).parent / "attack_inventory.json"
INVENTORY: dict[str, dict] = json.loads(INVENTORY_FILE.read_text())


def entry(spec: AttackSpec) -> dict:
    return {
        "kind": spec.kind.value, "param": spec.param, "unit": spec.unit, "grid": list(spec.grid),
        "neutral": spec.neutral, "domain": [None if math.isinf(d) else d for d in spec.domain],
        "category": spec.category, "version": spec.version, "differentiable": spec.differentiable,
        "integer": spec.integer, "needs": list(spec.needs), "optional": list(spec.optional),
    }


def registered() -> dict[str, AttackSpec]:
    return dict(load_all().items())


class TestAttackInventory:
    def test_no_id_disappeared(self):
        missing = sorted(set(INVENTORY) - set(registered()))
        assert not missing, f"attacks removed or renamed: {missing} (results keyed by them break)"

    def test_new_ids_are_added_deliberately(self):
        new = {i: entry(s) for i, s in registered().items() if i not in INVENTORY}
        assert not new, f"add these entries to {INVENTORY_FILE.name}:\n{json.dumps(new, indent=2)}"

    @pytest.mark.parametrize("attack_id", sorted(INVENTORY))
    def test_entry_unchanged(self, attack_id):
        spec = registered().get(attack_id)
        if spec is None:
            pytest.fail(f"{attack_id} is in the inventory but not registered")
        got, want = entry(spec), INVENTORY[attack_id]
        assert got["version"] >= want["version"], "an attack's version never goes down"
        assert got == want, (
            f"{attack_id} changed; if its definition changed, bump its version and update "
            f"{INVENTORY_FILE.name} to:\n{json.dumps(got, indent=2)}"
        )
