"""Chains of attacks, built from the single implementations in the sibling modules.

A chain is data: a tuple of :class:`Step` (a registered image attack and its value at strength 0 and
1). One ``strength`` in [0,1] moves every step linearly from its start to its full value; strength 0
is the identity (every step skipped, since e.g. JPEG at quality 100 is still lossy). The three chains
follow Stable Signature's crop/brightness/JPEG and WAVES' mixes (geometric + photometric, degradation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from fpbench.attacks.image import blur, colour, geometry, jpeg, noise, random_geometry  # noqa: F401 (register)
from fpbench.attacks.image._checks import check_images
from fpbench.attacks.registry import ATTACKS, register_attack


@dataclass(frozen=True)
class Step:
    """One attack of a chain: ``attack`` (a registered image attack id) at ``start`` for strength 0 and
    ``full`` for strength 1; ``odd`` snaps the value to the nearest odd integer (ties up), for kernels."""

    attack: str
    start: float
    full: float
    odd: bool = False

    def __post_init__(self) -> None:  # an unknown id or an out-of-domain end fails at import
        spec = ATTACKS.get(self.attack)
        spec.check_value(self.start)
        spec.check_value(self.full)

    def value(self, strength: float) -> float:
        v = self.start + strength * (self.full - self.start)
        if self.odd:
            return 2 * math.floor((v - 1) / 2 + 0.5) + 1
        return round(v) if ATTACKS.get(self.attack).integer else v


CROP_BRIGHTNESS_JPEG = (Step("center_crop", 1.0, 0.5), Step("brightness", 1.0, 1.5), Step("jpeg", 100, 80))
GEOMETRIC_PHOTOMETRIC = (Step("rotation", 0.0, 30.0), Step("random_resized_crop", 1.0, 0.5),
                         Step("brightness", 1.0, 1.5), Step("contrast", 1.0, 1.5))
DEGRADATION = (Step("gaussian_blur", 1, 5, odd=True), Step("gaussian_noise", 0.0, 0.05), Step("jpeg", 100, 50))


def chain_values(steps: tuple[Step, ...], strength: float) -> tuple[float, ...]:
    """The value of every step of ``steps`` at ``strength``."""
    return tuple(step.value(strength) for step in steps)


def run_chain(steps: tuple[Step, ...], images: torch.Tensor, strength: float, seed: int, name: str) -> torch.Tensor:
    """``images`` through every step at ``strength`` in order, each with the same ``seed``."""
    check_images(images, name)
    if strength == 0:
        return images.clone()
    for step, value in zip(steps, chain_values(steps, strength), strict=True):
        images = ATTACKS.get(step.attack)(images, value, seed=seed)
    return images


def combo_params(strength: float) -> tuple[float, float, int]:
    """(crop ratio, brightness factor, JPEG quality) at ``strength`` in [0,1], linear from the neutral
    (1, 1, 100) to the Stable Signature chain (0.5, 1.5, 80); quality is rounded to an integer."""
    return chain_values(CROP_BRIGHTNESS_JPEG, strength)


def _register_combo(attack_id: str, differentiable: bool):
    return register_attack(
        attack_id, kind="image", param="strength", unit="fraction of full strength",
        grid=(0.0, 0.25, 0.5, 0.75, 1.0), neutral=0.0, domain=(0.0, 1.0), category="combined", version=1,
        differentiable=differentiable,
    )


@_register_combo("combo_crop_brightness_jpeg", differentiable=False)
def combo_crop_brightness_jpeg(images: torch.Tensor, strength: float = 1.0, *, seed: int = 0) -> torch.Tensor:
    """Centre crop -> brightness -> JPEG, each at :func:`combo_params` (strength 1: crop 0.5,
    brightness 1.5, JPEG 80, as in Stable Signature). ``images``: Bx3xHxW float in [0,1].
    ``strength=0`` is the identity (JPEG skipped: even quality 100 is lossy)."""
    return run_chain(CROP_BRIGHTNESS_JPEG, images, strength, seed, "combo_crop_brightness_jpeg")


@_register_combo("combo_geometric_photometric", differentiable=True)
def combo_geometric_photometric(images: torch.Tensor, strength: float = 1.0, *, seed: int = 0) -> torch.Tensor:
    """Rotation -> random resized crop -> brightness -> contrast (WAVES' geometric + photometric mix).

    Strength 1: 30 degrees, kept area 0.5, factors 1.5 and 1.5. ``images``: Bx3xHxW float in [0,1].
    The crop is seeded (per image, as ``random_resized_crop``); ``strength=0`` is the identity."""
    return run_chain(GEOMETRIC_PHOTOMETRIC, images, strength, seed, "combo_geometric_photometric")


@_register_combo("combo_degradation", differentiable=False)
def combo_degradation(images: torch.Tensor, strength: float = 1.0, *, seed: int = 0) -> torch.Tensor:
    """Gaussian blur -> Gaussian noise -> JPEG (WAVES' degradation mix).

    Strength 1: kernel 5, std 0.05, quality 50 (the kernel is the nearest odd size: 3 from strength
    0.25, 5 from 0.75). ``images``: Bx3xHxW float in [0,1]. The noise is seeded (per image);
    ``strength=0`` is the identity."""
    return run_chain(DEGRADATION, images, strength, seed, "combo_degradation")
