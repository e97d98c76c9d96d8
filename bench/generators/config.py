"""GAN training configuration: a frozen, versioned dataclass, checked at construction."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from fpbench.generators.losses import LOSSES
from fpbench.generators.registry import GENERATORS, check_resolution

# Fields that may differ between a checkpoint and the config resuming from it.
RESUMABLE_FIELDS = frozenset({"steps", "checkpoint_every"})


def check_ids(arch: str, discriminator: str, loss: str) -> None:
    """Raise (with "did you mean") when a generator, discriminator or loss id is not registered."""
    GENERATORS.get(arch)
    if discriminator:
        GENERATORS.get(discriminator)
    LOSSES.get(loss)


@dataclass(frozen=True)
class GanConfig:
    """Everything that defines a GAN training run. ``version`` goes into result rows and cache keys;
    bump it when the training procedure changes meaning.

    ``betas`` are Adam's; ``ema_decay`` in [0, 1) (0 = the EMA generator equals the online one);
    ``checkpoint_every`` in steps (a checkpoint is also written at the last step); ``loss`` is a
    :data:`~fpbench.generators.losses.LOSSES` id, ``arch`` a :data:`~fpbench.generators.GENERATORS` id;
    ``discriminator`` another GENERATORS id whose D is used instead of ``arch``'s ("" = ``arch``'s own).
    """

    arch: str = "dcgan"
    resolution: int = 32
    latent_dim: int = 128
    width: int = 32
    steps: int = 2000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    loss: str = "hinge"
    ema_decay: float = 0.999
    seed: int = 0
    checkpoint_every: int = 500
    version: int = 1
    discriminator: str = ""

    def __post_init__(self) -> None:
        check_ids(self.arch, self.discriminator, self.loss)
        check_resolution(self.resolution)
        for name in ("latent_dim", "width", "batch_size", "checkpoint_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GanConfig.{name} must be a positive int, got {value!r}")
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or self.steps < 0:
            raise ValueError(f"GanConfig.steps must be an int >= 0, got {self.steps!r}")
        if not (self.lr_g > 0 and self.lr_d > 0):
            raise ValueError(f"learning rates must be > 0, got lr_g={self.lr_g}, lr_d={self.lr_d}")
        betas = tuple(float(b) for b in self.betas)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"GanConfig.betas must be two floats in [0, 1), got {self.betas!r}")
        object.__setattr__(self, "betas", betas)
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"GanConfig.ema_decay must be in [0, 1), got {self.ema_decay}")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["betas"] = list(self.betas)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def mismatches(self, other: GanConfig) -> list[str]:
        """Fields (other than :data:`RESUMABLE_FIELDS`) whose values differ: ``name: mine != other``."""
        a, b = self.to_dict(), other.to_dict()
        return [f"{k}: {a[k]!r} != {b[k]!r}" for k in a if k not in RESUMABLE_FIELDS and a[k] != b[k]]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> GanConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown GanConfig fields {unknown}; valid: {sorted(names)}")
        return cls(**{k: tuple(v) if k == "betas" else v for k, v in d.items()})
