"""The one attack registry: image, model and adaptive attacks, each an entry with its grid as data.

An entry holds the pure function, the name of its single severity parameter, the unit, the default
grid (weakest first), the neutral value (no-op), the valid domain, a category, a version and whether
it is differentiable. The version goes into every result row and cache key: bump it whenever the
definition of an attack changes so old and new numbers never mix.

Calling conventions by kind:

- ``image``: ``fn(images, <param>=value, *, seed) -> images`` on Bx3xHxW float32 in [0,1], same shape.
- ``model``: ``fn(model, <param>=value, *, seed, context) -> new model`` (input never mutated).
- ``adaptive``: ``fn(images, <param>=value, *, seed, context) -> images``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fpbench.registry import Registry


class AttackKind(str, Enum):
    IMAGE = "image"
    MODEL = "model"
    ADAPTIVE = "adaptive"


@dataclass(frozen=True)
class AttackSpec:
    id: str
    kind: AttackKind
    fn: Callable[..., Any]
    param: str
    unit: str
    grid: tuple[float, ...]
    neutral: float | None
    domain: tuple[float, float]
    category: str
    version: int
    differentiable: bool
    integer: bool
    description: str

    def check_value(self, value: float) -> float:
        """Return ``value`` as the parameter's type, or raise naming the valid domain."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
            raise ValueError(f"{self.id}: {self.param} must be a number, got {value!r}")
        lo, hi = self.domain
        if not lo <= float(value) <= hi:
            raise ValueError(
                f"{self.id}: {self.param}={value} is outside its domain [{lo}, {hi}] ({self.unit})"
            )
        if self.integer and float(value) != int(value):
            raise ValueError(f"{self.id}: {self.param} must be an integer, got {value}")
        return int(value) if self.integer else float(value)

    def check_grid(self, grid: Sequence[float]) -> tuple[float, ...]:
        if len(grid) == 0:
            raise ValueError(f"{self.id}: empty grid for {self.param}")
        return tuple(self.check_value(v) for v in grid)

    def __call__(self, target: Any, value: float, *, seed: int = 0, **context: Any) -> Any:
        value = self.check_value(value)
        return self.fn(target, **{self.param: value}, seed=seed, **context)


ATTACKS: Registry[AttackSpec] = Registry("attack")


def register_attack(
    attack_id: str,
    *,
    kind: AttackKind | str,
    param: str,
    unit: str,
    grid: Sequence[float],
    neutral: float | None,
    domain: tuple[float, float],
    category: str,
    version: int = 1,
    differentiable: bool = False,
    integer: bool = False,
    description: str = "",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that registers a pure attack function and returns it unchanged."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        spec = AttackSpec(
            id=attack_id, kind=AttackKind(kind), fn=fn, param=param, unit=unit, grid=tuple(grid),
            neutral=neutral, domain=domain, category=category, version=version,
            differentiable=differentiable, integer=integer,
            description=description or (fn.__doc__ or "").strip().splitlines()[0],
        )
        spec.check_grid(spec.grid)
        ATTACKS.add(attack_id, spec)
        return fn

    return decorator


def get_attack(attack_id: str) -> AttackSpec:
    """Look an attack up by id (importing every attack module first); unknown ids say 'did you mean'."""
    load_all()
    return ATTACKS.get(attack_id)


def load_all() -> Registry[AttackSpec]:
    """Import every module that registers attacks, so the registry is complete."""
    import importlib

    for module in ("fpbench.attacks.image", "fpbench.attacks.model", "fpbench.attacks.adaptive"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a kind not built yet
            if exc.name != module:
                raise
    return ATTACKS
