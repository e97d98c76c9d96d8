"""Every adaptive attack declares the adversary it models (issue 17): a reader knows what "removed" means."""

from __future__ import annotations

import pytest

from fpbench.attacks.registry import KNOWLEDGE, AttackKind, ThreatCard, load_all

ADAPTIVE = sorted(i for i, s in load_all().items() if s.kind is AttackKind.ADAPTIVE)


class TestThreatCards:
    def test_the_adaptive_attacks_are_all_there(self):
        assert len(ADAPTIVE) >= 13
        assert {"purification", "embedding_pgd_autoencoder", "embedding_pgd_resnet18",
                "embedding_pgd_surrogate"} <= set(ADAPTIVE)

    @pytest.mark.parametrize("attack_id", ADAPTIVE)
    def test_every_adaptive_attack_has_a_threat_card(self, attack_id):
        card = load_all().get(attack_id).threat
        assert isinstance(card, ThreatCard), f"{attack_id} has no threat card"
        assert card.knowledge in KNOWLEDGE
        assert all(len(getattr(card, f).split()) >= 3 for f in ("data", "compute", "quality"))

    def test_white_box_is_only_the_upper_bound(self):
        white = {i for i in ADAPTIVE if load_all().get(i).threat.knowledge == "white-box"}
        assert white == {i for i in ADAPTIVE if "victim_decoder" in load_all().get(i).needs} == {"whitebox_pgd"}
