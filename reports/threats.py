"""Threat cards: the adversary behind every model and adaptive attack a run measured, so a reader knows
what "removed" or "forged" means in each row.

The run writes each attack's card (knowledge, data, compute, quality budget) into its manifest
(``manifest["attacks"][id]["threat"]``); this module only reads it back, so an old run renders with
today's code and a report never imports the attack code. An attack whose run predates the cards, or
that declares none, shows "not declared" instead of being left out: a missing card is visible.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from fpbench.atomic import write_text_atomic
from fpbench.reports.format import to_markdown

TITLE = "Threat cards: the adversary behind each model and adaptive attack"
KINDS = ("model", "adaptive")  # image perturbations are not adversaries: no card
FIELDS = ("knowledge", "data", "compute", "quality")
HEADERS = {"knowledge": "knowledge", "data": "data it uses", "compute": "compute budget",
           "quality": "counts within"}
UNDECLARED = "not declared"
KNOWLEDGE_ORDER = {"black-box": 0, "grey-box": 1, "white-box": 2}


def threat_table(manifest: Mapping | None) -> pd.DataFrame:
    """One row per model or adaptive attack described in ``manifest["attacks"]``: kind, category and the
    four fields of its card (``UNDECLARED`` where the manifest has none). Sorted by kind, then
    knowledge (black-box first), then id. Empty (with its columns) when the run measured none."""
    columns = ["attack", "kind", "category", *(HEADERS[f] for f in FIELDS)]
    attacks = (manifest or {}).get("attacks")
    rows = []
    for attack, entry in (attacks.items() if isinstance(attacks, Mapping) else ()):
        if not isinstance(entry, Mapping) or entry.get("kind") not in KINDS:
            continue
        card = entry.get("threat")
        card = card if isinstance(card, Mapping) else {}
        rows.append({"attack": str(attack), "kind": entry["kind"], "category": str(entry.get("category", "")),
                     **{HEADERS[f]: str(card.get(f) or UNDECLARED) for f in FIELDS}})
    if not rows:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame(rows, columns=columns)
    order = table["knowledge"].map(KNOWLEDGE_ORDER).fillna(len(KNOWLEDGE_ORDER))
    kind = table["kind"].map({k: i for i, k in enumerate(KINDS)})
    table = table.assign(_k=kind, _o=order).sort_values(["_k", "_o", "attack"])
    return table.drop(columns=["_k", "_o"]).reset_index(drop=True)


def write_threat_table(table: pd.DataFrame, out_dir: Path) -> list[Path]:
    """``threat_cards.md`` in ``out_dir`` (nothing, and a stale file removed, when the table is empty)."""
    path = Path(out_dir) / "threat_cards.md"
    if table.empty:
        path.unlink(missing_ok=True)
        return []
    return [write_text_atomic(path, f"### {TITLE}\n\n" + to_markdown(table))]
