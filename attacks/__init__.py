"""fpbench attacks: one registry of image, model and adaptive perturbations."""

from attacks.registry import ATTACKS, AttackKind, AttackSpec, get_attack, load_all, register_attack

__all__ = ["ATTACKS", "AttackKind", "AttackSpec", "get_attack", "load_all", "register_attack"]
