"""Overwrite: the adversary stamps its own fingerprint over the victim's with its own encoder.

``x' = (1 - a) x + a E'(x, w')`` with ``a`` = ``strength``: E' is the adversary's surrogate encoder
(trained on disjoint data) and w' the adversary's own fingerprint, drawn from ``seed`` (the attack of the
authors' early code, there with the victim's own encoder and another seed).
"""

from __future__ import annotations

import torch
from torch import nn

from fpbench.attacks.adaptive._context import check_adaptive_images, check_resolution, require
from fpbench.attacks.registry import ThreatCard, register_attack
from fpbench.fingerprint.embedding import random_fingerprint


@register_attack(
    "overwrite", kind="adaptive", param="strength", unit="blend factor a of the adversary's re-stamped image",
    grid=(0.0, 0.25, 0.5, 0.75, 1.0), neutral=0.0, domain=(0.0, 1.0), category="removal", version=1,
    description="Blend with the adversary's own fingerprint: x' = (1-a) x + a E'(x, w').",
    needs=("surrogate_encoder",),
    threat=ThreatCard(
        knowledge="grey-box",
        data="its surrogate encoder, trained with the victim's method on the holdout photos (disjoint from the "
             "victim's data)",
        compute="one surrogate-encoder forward pass per image; no queries to the victim",
        quality="counts at PSNR >= 30 dB (and 25 dB) vs the unattacked image (report table); the blend "
                "factor trades quality for removal"),
)
def overwrite(images: torch.Tensor, strength: float = 1.0, *, seed: int = 0,
              surrogate_encoder: nn.Module | None = None) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape. ``surrogate_encoder``: a
    :class:`fpbench.fingerprint.nets.FingerprintEncoder` (``n_bits``, ``resolution``). ``strength=0``
    returns a copy of the input."""
    check_adaptive_images(images, "overwrite")
    enc = require(surrogate_encoder, "surrogate_encoder", "overwrite", nn.Module)
    if strength == 0 or len(images) == 0:
        return images.clone()
    check_resolution(images, enc, "surrogate_encoder", "overwrite")
    w = random_fingerprint(enc.n_bits, seed)
    device = next(enc.parameters()).device
    chunks = []
    with torch.no_grad():
        for i in range(0, len(images), 256):
            x = images[i:i + 256].to(device)
            stamped = enc(x, w.to(device).expand(len(x), -1))
            chunks.append(((1 - strength) * x + strength * stamped).to(images.device))
    return torch.cat(chunks).clamp(0, 1)
