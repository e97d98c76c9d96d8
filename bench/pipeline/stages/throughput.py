"""Throughput of the attack stages, for the manifest: per attack, the images its measured work got through
per second and, for an attack that trains or optimises (fine-tuning, distillation, PGD, a detector CNN), its
optimisation steps per second.

Only work this run did counts: a cell read from the cache adds nothing, so an attack whose cells were all
cached has no entry. Timing never touches what is measured: the numbers go to ``ctx.notes`` (and so to
the manifest), never to the result rows."""

from __future__ import annotations

import inspect
from dataclasses import dataclass

from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import AttackSpec
from fpbench.pipeline.stages.context import RunContext

#: the context settings that count an attack's optimisation steps per call
STEP_SETTINGS = ("finetune_steps", "pgd_steps", "cnn_steps")
#: attack parameters that are themselves a number of optimisation steps
STEP_PARAMS = ("steps",)


@dataclass(frozen=True)
class Timing:
    """The work of one cell (plain values, so a Ray task can return it): ``images`` measured in ``seconds``,
    ``steps`` optimisation steps in ``step_seconds`` (part of ``seconds`` or not, as the stage says)."""

    images: int
    seconds: float
    steps: int = 0
    step_seconds: float = 0.0


@dataclass
class _Tally:
    images: int = 0
    seconds: float = 0.0
    steps: int = 0
    step_seconds: float = 0.0

    def add(self, timing: Timing) -> None:
        self.images += timing.images
        self.seconds += timing.seconds
        self.steps += timing.steps
        self.step_seconds += timing.step_seconds

    def rates(self) -> dict[str, float]:
        out = {}
        if self.images > 0 and self.seconds > 0:
            out["images_per_second"] = round(self.images / self.seconds, 2)
        if self.steps > 0 and self.step_seconds > 0:
            out["steps_per_second"] = round(self.steps / self.step_seconds, 2)
        return out


def _setting(spec: AttackSpec, name: str, context: AttackContext | None) -> int:
    """The value of step setting ``name`` a call of ``spec`` gets: the context's, else the function's default."""
    given = getattr(context, name, None) if context is not None else None
    if given is not None:
        return int(given)
    default = inspect.signature(spec.fn).parameters.get(name)
    return int(default.default) if default is not None and isinstance(default.default, int) else 0


def attack_steps(spec: AttackSpec, value: float, context: AttackContext | None = None) -> int:
    """The optimisation steps one call of ``spec`` at ``value`` takes, as the attack declares them: its value
    when its parameter is a step count, plus each step setting (:data:`STEP_SETTINGS`) it takes. An attack at
    its neutral value is the identity and takes none."""
    if spec.neutral is not None and value == spec.neutral:
        return 0
    steps = int(value) if spec.param in STEP_PARAMS else 0
    taken = spec.needs + spec.optional
    return steps + sum(_setting(spec, name, context) for name in STEP_SETTINGS if name in taken)


def record(ctx: RunContext, note: str, name: str, timing: Timing) -> None:
    """Add ``timing`` to ``name``'s tally under ``note`` and write its rates to ``ctx.notes[note][name]``."""
    tally = ctx.artifacts.setdefault(f"throughput/{note}", {}).setdefault(name, _Tally())
    tally.add(timing)
    rates = tally.rates()
    if rates:
        ctx.notes.setdefault(note, {})[name] = rates
