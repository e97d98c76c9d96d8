"""The one attack registry: image, model and adaptive attacks, each an entry with its grid as data.

An entry holds the pure function, the name of its single severity parameter, the unit, the default
grid (weakest first), the neutral value (no-op), the valid domain, a category, a version and whether
it is differentiable. The version goes into every result row and cache key: bump it whenever the
definition of an attack changes so old and new numbers never mix.

Calling conventions by kind:

- ``image``: ``fn(images, <param>=value, *, seed) -> images`` on Bx3xHxW float32 in [0,1], same shape.
- ``model``: ``fn(model, <param>=value, *, seed, <context fields>) -> new model`` (input never mutated).
- ``adaptive``: ``fn(images, <param>=value, *, seed, <context fields>) -> images``.

What an attack takes besides its target is declared at registration (``needs``, ``optional``: fields of
:class:`fpbench.attacks.context.AttackContext`); the function takes them as keyword-only parameters and no
``**kwargs``, so ``spec(x, v, seed=0, context=ctx)`` hands it exactly what it declared and a misspelled
keyword is a ``TypeError``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fpbench.attacks.context import CONTEXT_FIELDS, FIELD_HELP, AttackContext
from fpbench.registry import Registry


class AttackKind(str, Enum):
    IMAGE = "image"
    MODEL = "model"
    ADAPTIVE = "adaptive"


KNOWLEDGE = ("black-box", "grey-box", "white-box")


@dataclass(frozen=True)
class ThreatCard:
    """The adversary an adaptive or model attack models, so a reader knows what "removed" means in a row.

    ``knowledge``: one of :data:`KNOWLEDGE` (black-box: the adversary sees outputs only; grey-box: it knows
    the method and trains its own copy or owns the weights; white-box: it has the defender's decoder);
    ``data``: what data it uses; ``compute``: its budget (steps, queries, samples); ``quality``: the quality
    at which the attack counts (a PSNR or FID budget)."""

    knowledge: str
    data: str
    compute: str
    quality: str

    def __post_init__(self) -> None:
        if self.knowledge not in KNOWLEDGE:
            raise ValueError(f"ThreatCard.knowledge must be one of {KNOWLEDGE}, got {self.knowledge!r}")
        for name in ("data", "compute", "quality"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"ThreatCard.{name} must say something")


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
    needs: tuple[str, ...] = ()  # context fields the attack cannot run without
    optional: tuple[str, ...] = ()  # context fields it uses when given
    threat: ThreatCard | None = None  # the adversary it models (adaptive and model attacks)

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

    def check_context(self, context: AttackContext) -> None:
        """Raise naming what the attack needs that ``context`` lacks."""
        missing = context.missing(self.needs)
        if missing:
            raise ValueError(f"{self.id} needs " + "; ".join(f"`{m}` ({FIELD_HELP[m]})" for m in missing)
                             + " in its context, and none was given")

    def __call__(self, target: Any, value: float, *, seed: int = 0, context: AttackContext | None = None,
                 **kwargs: Any) -> Any:
        """The attack at ``value``: ``context`` supplies the fields the attack declared (only those);
        ``kwargs`` go to the function as they are (an unknown one is a ``TypeError``)."""
        value = self.check_value(value)
        given = {}
        if context is not None:
            self.check_context(context)
            given = context.select(self.needs + self.optional)
        return self.fn(target, **{self.param: value}, seed=seed, **given, **kwargs)


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
    needs: Sequence[str] = (),
    optional: Sequence[str] = (),
    threat: ThreatCard | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator that registers a pure attack function and returns it unchanged. ``needs`` / ``optional``
    name the :class:`AttackContext` fields it takes, each a keyword-only parameter of ``fn``."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        _check_signature(attack_id, fn, param, (*needs, *optional))
        spec = AttackSpec(
            id=attack_id, kind=AttackKind(kind), fn=fn, param=param, unit=unit, grid=tuple(grid),
            neutral=neutral, domain=domain, category=category, version=version,
            differentiable=differentiable, integer=integer,
            description=description or (fn.__doc__ or "").strip().splitlines()[0],
            needs=tuple(needs), optional=tuple(optional), threat=threat,
        )
        spec.check_grid(spec.grid)
        ATTACKS.add(attack_id, spec)
        return fn

    return decorator


def _check_signature(attack_id: str, fn: Callable[..., Any], param: str, context: tuple[str, ...]) -> None:
    """An attack takes its parameter, ``seed`` and the context fields it declares by name, and nothing
    it did not name: no ``**kwargs`` that would swallow a misspelled keyword."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        raise TypeError(f"attack {attack_id!r}: no **kwargs; declare context fields with needs=/optional=")
    for name in (param, "seed", *context):
        if name not in params:
            raise TypeError(f"attack {attack_id!r}: its function has no parameter {name!r}")
    unknown = [c for c in context if c not in CONTEXT_FIELDS]
    if unknown:
        raise TypeError(f"attack {attack_id!r}: {unknown} are not AttackContext fields ({sorted(CONTEXT_FIELDS)})")


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
