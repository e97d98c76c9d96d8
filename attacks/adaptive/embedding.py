"""Embedding-space PGD (WAVES' embedding attacks): move an image's features as far as an L-inf budget allows.

The adversary maximises ``||f(x') - f(x)||^2`` over ``||x' - x||_inf <= eps/255`` with the shared loop of
:func:`attacks.adaptive.pgd.pgd_linf` (random start, signed steps, uint8 output), for a feature extractor
``f`` it owns offline; no fingerprint decoder is involved, so a fingerprint that survives is robust to
generic feature-space perturbations:

- ``embedding_pgd_autoencoder``: the code of its regeneration autoencoder (trained on holdout photos);
- ``embedding_pgd_resnet18``: a randomly initialised torchvision ResNet-18 (``weights=None``, seeded,
  never downloaded), its 512-d pooled features (on ImageNet-normalised input);
- ``embedding_pgd_surrogate``: its surrogate fingerprint decoder's penultimate features (the input of its
  last linear layer; its logits if it has none).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from fpbench.attacks.adaptive._context import check_adaptive_images, check_resolution, require
from fpbench.attacks.adaptive.pgd import check_steps, pgd_linf
from fpbench.attacks.registry import ThreatCard, register_attack

RESNET_SEED = 20240601  # the random ResNet-18's weights: fixed, so every run attacks the same network
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_RESNETS: dict[str, nn.Module] = {}


def random_resnet18(device: torch.device | str = "cpu") -> nn.Module:
    """torchvision's ResNet-18 with random weights (seed :data:`RESNET_SEED`, global RNG untouched), its
    classifier removed, in eval mode: Bx3xHxW in [0,1] -> B x 512. Built once per device."""
    key = str(device)
    if key not in _RESNETS:
        from torchvision.models import resnet18  # heavy import, only for this attack

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RESNET_SEED)
            net = resnet18(weights=None)
        net.fc = nn.Identity()
        mean = torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1)
        _RESNETS[key] = _Normalised(net, mean, std).to(device).eval().requires_grad_(False)
    return _RESNETS[key]


class _Normalised(nn.Module):
    def __init__(self, net: nn.Module, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std)


def penultimate(decoder: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The input of ``decoder``'s last ``nn.Linear`` layer as a function of the image (its output if it has none)."""
    linears = [m for m in decoder.modules() if isinstance(m, nn.Linear)]
    if not linears:
        return decoder

    def features(x: torch.Tensor) -> torch.Tensor:
        seen: list[torch.Tensor] = []
        handle = linears[-1].register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
        try:
            decoder(x)
        finally:
            handle.remove()
        return seen[-1].flatten(1)

    return features


def embedding_pgd(images: torch.Tensor, eps: float, *, seed: int, features: Callable[[torch.Tensor], torch.Tensor],
                  device: torch.device, steps: int, attack: str) -> torch.Tensor:
    """Maximise each image's squared L2 feature distance to its clean features (sum over the batch)."""

    def objective(x0: torch.Tensor, _gens: list[torch.Generator]) -> Callable[[torch.Tensor], torch.Tensor]:
        with torch.no_grad():
            clean = features(x0).flatten(1)
        return lambda x: -(features(x).flatten(1) - clean).pow(2).sum()

    return pgd_linf(images, eps, objective, steps=steps, seed=seed, device=device, attack=attack)


def _threat(knowledge: str, data: str) -> ThreatCard:
    return ThreatCard(knowledge=knowledge, data=data,
                      compute="pgd_steps forward+backward passes of the feature extractor per image (20 in quick); "
                              "no queries to the victim",
                      quality="L-inf <= eps/255 vs the unattacked image (uint8 output); PSNR reported")


_COMMON = dict(kind="adaptive", param="eps", unit="L-inf radius in 1/255 steps", grid=(2, 4, 8, 16), neutral=0,
               domain=(0, 255), category="removal", version=1, differentiable=True)


@register_attack(
    "embedding_pgd_autoencoder", **_COMMON,
    description="PGD (L-inf) pushing the image's code in the adversary's autoencoder away from the clean code.",
    needs=("autoencoder",), optional=("pgd_steps",),
    threat=_threat("black-box", "its regeneration autoencoder, trained on the holdout photos (disjoint from the "
                                "victim's data); nothing of the victim's method"),
)
def embedding_pgd_autoencoder(images: torch.Tensor, eps: float = 8, *, seed: int = 0,
                              autoencoder: nn.Module | None = None, pgd_steps: int = 40) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape, on the uint8 grid, within ``eps/255`` in L-inf.
    ``autoencoder`` must have an ``encode`` method (image -> code)."""
    check_adaptive_images(images, "embedding_pgd_autoencoder")
    net = require(autoencoder, "autoencoder", "embedding_pgd_autoencoder", nn.Module)
    if not callable(getattr(net, "encode", None)):
        raise ValueError("embedding_pgd_autoencoder: `autoencoder` needs an encode(images) method "
                         "(attacks.adaptive.regeneration.RegenerationAutoencoder)")
    return embedding_pgd(images, eps, seed=seed, features=net.encode, device=next(net.parameters()).device,
                         steps=pgd_steps, attack="embedding_pgd_autoencoder")


@register_attack(
    "embedding_pgd_resnet18", **_COMMON,
    description="PGD (L-inf) pushing the image's features in a random ResNet-18 away from the clean features.",
    optional=("pgd_steps", "device"),
    threat=_threat("black-box", "none: a randomly initialised torchvision ResNet-18 (fixed seed, no pretrained "
                                "weights)"),
)
def embedding_pgd_resnet18(images: torch.Tensor, eps: float = 8, *, seed: int = 0, pgd_steps: int = 40,
                           device: str | None = None) -> torch.Tensor:
    """``images``: Bx3xHxW float in [0,1] -> same shape, on the uint8 grid, within ``eps/255`` in L-inf;
    runs on ``device`` (default: the images')."""
    check_adaptive_images(images, "embedding_pgd_resnet18")
    check_steps(pgd_steps, "embedding_pgd_resnet18")
    where = torch.device(device) if device is not None else images.device
    return embedding_pgd(images, eps, seed=seed, features=random_resnet18(where), device=where, steps=pgd_steps,
                         attack="embedding_pgd_resnet18")


@register_attack(
    "embedding_pgd_surrogate", **_COMMON,
    description="PGD (L-inf) pushing the image's penultimate features in the surrogate decoder away from the clean ones.",
    needs=("surrogate_decoder",), optional=("pgd_steps",),
    threat=_threat("grey-box", "its surrogate decoder, trained with the victim's method on the holdout photos "
                               "(disjoint from the victim's data)"),
)
def embedding_pgd_surrogate(images: torch.Tensor, eps: float = 8, *, seed: int = 0,
                            surrogate_decoder: nn.Module | None = None, pgd_steps: int = 40) -> torch.Tensor:
    """``images``: Bx3xRxR float in [0,1] -> same shape, on the uint8 grid, within ``eps/255`` in L-inf."""
    check_adaptive_images(images, "embedding_pgd_surrogate")
    dec = require(surrogate_decoder, "surrogate_decoder", "embedding_pgd_surrogate", nn.Module)
    check_resolution(images, dec, "surrogate_decoder", "embedding_pgd_surrogate")
    return embedding_pgd(images, eps, seed=seed, features=penultimate(dec), device=next(dec.parameters()).device,
                         steps=pgd_steps, attack="embedding_pgd_surrogate")
