"""Threat cards: the manifest carries each attack's card and the report's table lists every model and
adaptive attack with it, a missing card shown rather than hidden."""

from __future__ import annotations

import json

import pytest

from fpbench import reports
from fpbench.attacks.registry import AttackKind, load_all
from fpbench.pipeline.runner import attack_descriptions
from fpbench.reports.threats import HEADERS, UNDECLARED, threat_table, write_threat_table
from fpbench.results import write_results

CARD = {"knowledge": "white-box", "data": "the victim's decoder", "compute": "20 PGD steps",
        "quality": "PSNR >= 30 dB"}
MANIFEST = {"attacks": {
    "jpeg": {"param": "quality", "kind": "image", "category": "compression", "threat": None},
    "whitebox_pgd": {"param": "eps", "kind": "adaptive", "category": "removal", "threat": CARD},
    "overwrite": {"param": "strength", "kind": "adaptive", "category": "removal",
                  "threat": {**CARD, "knowledge": "black-box", "data": "holdout photos"}},
    "pruning": {"param": "amount", "kind": "model", "category": "pruning",
                "threat": {**CARD, "knowledge": "grey-box", "data": "none"}},
    "old_attack": {"param": "x", "kind": "adaptive", "category": "removal"},  # a run from before the cards
}}


class TestThreatTable:
    def test_rows_are_model_and_adaptive_attacks_in_order(self):
        table = threat_table(MANIFEST)
        # model first, then adaptive by knowledge (black, white, then undeclared last), never image attacks
        assert list(table["attack"]) == ["pruning", "overwrite", "whitebox_pgd", "old_attack"]

    def test_cards_are_copied_verbatim(self):
        row = threat_table(MANIFEST).set_index("attack").loc["whitebox_pgd"]
        assert [row[HEADERS[f]] for f in ("knowledge", "data", "compute", "quality")] == list(CARD.values())

    def test_missing_card_is_shown_not_dropped(self):
        row = threat_table(MANIFEST).set_index("attack").loc["old_attack"]
        assert row[HEADERS["knowledge"]] == UNDECLARED and row[HEADERS["quality"]] == UNDECLARED

    @pytest.mark.parametrize("manifest", [None, {}, {"attacks": []}, {"attacks": {"jpeg": MANIFEST["attacks"]["jpeg"]}}])
    def test_nothing_to_show(self, manifest, tmp_path):
        stale = tmp_path / "threat_cards.md"
        stale.write_text("old", encoding="utf-8")
        table = threat_table(manifest)
        assert table.empty and "knowledge" in table.columns
        assert write_threat_table(table, tmp_path) == [] and not stale.exists()


class TestRegistryCards:
    def test_manifest_descriptions_carry_the_registered_cards(self):
        specs = dict(load_all().items())
        described = attack_descriptions(list(specs))
        for attack_id, spec in specs.items():
            expected = None if spec.threat is None else {f: getattr(spec.threat, f) for f in HEADERS}
            assert described[attack_id]["threat"] == expected, attack_id

    def test_every_model_and_adaptive_attack_is_listed_with_its_card(self):
        specs = dict(load_all().items())
        wanted = sorted(a for a, s in specs.items() if s.kind in (AttackKind.MODEL, AttackKind.ADAPTIVE))
        table = threat_table({"attacks": attack_descriptions(list(specs))})
        assert sorted(table["attack"]) == wanted
        undeclared = table[table[HEADERS["knowledge"]] == UNDECLARED]["attack"].tolist()
        assert not undeclared, f"attacks without a threat card: {undeclared}"


def test_report_page_shows_the_threat_cards(tmp_path, summarised_results):
    write_results(summarised_results, tmp_path / "results.csv")
    (tmp_path / "manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    html = reports.render_run(tmp_path).read_text(encoding="utf-8")
    assert 'id="threats"' in html and "Threat cards" in html
    assert "the victim&#x27;s decoder" in html or "the victim's decoder" in html
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "holdout photos" in markdown and (tmp_path / "tables" / "threat_cards.md").is_file()
