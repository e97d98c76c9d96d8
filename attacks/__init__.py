"""fpbench attacks: one registry of image, model and adaptive perturbations."""

from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import ATTACKS, AttackKind, AttackSpec, get_attack, load_all, register_attack

__all__ = ["ATTACKS", "AttackContext", "AttackKind", "AttackSpec", "get_attack", "load_all", "register_attack"]
