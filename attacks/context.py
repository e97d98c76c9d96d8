"""What an attack may need besides its target and severity, in one typed object.

An attack declares the context fields it uses when it is registered (``needs`` it cannot run without,
``optional`` it uses when given); each is a keyword-only parameter of the attack function, which has no
``**kwargs``, so a misspelled keyword is a ``TypeError``. A stage builds one :class:`AttackContext` with
everything it can offer and the registry hands each attack exactly the fields it declared
(:meth:`AttackSpec.__call__`): stages never branch on attack ids.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the context itself stays light
    import torch
    from torch import nn

#: what each field holds, for the messages of attacks that miss one
FIELD_HELP = {
    "data": "clean real training images (uint8 N x 3 x R x R)",
    "gan_config": "the generator's training config (fpbench.generators.GanConfig)",
    "discriminator": "the generator's original discriminator",
    "device": "the device to train on",
    "other_model": "a second model of the same architecture (to merge with)",
    "clean_model": "a clean (never fingerprinted) generator of the same architecture (a model soup's ingredient)",
    "surrogate_encoder": "the adversary's own fingerprint encoder",
    "surrogate_decoder": "the adversary's own fingerprint decoder",
    "autoencoder": "the adversary's regeneration autoencoder",
    "denoiser": "the adversary's Gaussian denoiser (for purification)",
    "victim_decoder": "the victim's true decoder (white-box upper bounds only)",
    "pool": "other images the adversary observed carrying the same fingerprint",
    "marked": "fingerprinted training images of the detector (uint8)",
    "clean": "clean training images of the detector (uint8)",
    "pgd_steps": "PGD iterations",
    "finetune_steps": "GAN fine-tuning steps after a one-shot change (fine-pruning's fine-tune)",
    "cnn_steps": "training steps of the detector CNN",
}


@dataclass(frozen=True)
class AttackContext:
    """Everything a stage can offer an attack; unset fields are None."""

    # model attacks
    data: torch.Tensor | None = None
    gan_config: Any = None
    discriminator: nn.Module | None = None
    device: str | None = None
    other_model: nn.Module | None = None
    clean_model: nn.Module | None = None
    # adaptive attacks: the adversary's tools and observations
    surrogate_encoder: nn.Module | None = None
    surrogate_decoder: nn.Module | None = None
    autoencoder: nn.Module | None = None
    denoiser: nn.Module | None = None
    victim_decoder: nn.Module | None = None
    pool: torch.Tensor | None = None
    marked: torch.Tensor | None = None
    clean: torch.Tensor | None = None
    pgd_steps: int | None = None
    finetune_steps: int | None = None
    cnn_steps: int | None = None

    def missing(self, needs: tuple[str, ...]) -> list[str]:
        """The fields of ``needs`` this context does not hold."""
        return [name for name in needs if getattr(self, name) is None]

    def select(self, names: tuple[str, ...]) -> dict[str, Any]:
        """``{name: value}`` for the fields of ``names`` this context holds."""
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


CONTEXT_FIELDS = frozenset(f.name for f in fields(AttackContext))
#: the fields that are plain settings of the run's config, not artifacts (whose keys a stage's lineage holds):
#: a stage puts the ones an attack takes into that attack's cache key
SETTING_FIELDS = ("pgd_steps", "cnn_steps", "finetune_steps")
assert CONTEXT_FIELDS == set(FIELD_HELP), "every context field needs its FIELD_HELP line"
