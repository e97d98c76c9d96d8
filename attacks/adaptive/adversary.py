"""The adversary's own models, trained only on data disjoint from the victim's (the ``holdout`` split):

- a surrogate fingerprint encoder/decoder (same method, own seed, own small config), used by
  ``overwrite``, ``surrogate_pgd``, ``embedding_pgd_surrogate`` and ``forgery_surrogate``;
- a denoising autoencoder for ``regeneration`` and ``embedding_pgd_autoencoder``;
- a Gaussian denoiser (DnCNN) for ``purification``.

:class:`AdversaryConfig` is frozen and versioned; its hash (with the holdout images) keys the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from fpbench.attacks.adaptive.denoiser import Denoiser, DenoiserConfig, train_denoiser
from fpbench.attacks.adaptive.regeneration import (
    AutoencoderConfig,
    RegenerationAutoencoder,
    train_autoencoder,
)
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder
from fpbench.fingerprint.training import FingerprintTrainConfig, train_fingerprint


def small_surrogate_config(n_bits: int, resolution: int, *, steps: int = 300, seed: int = 7919) -> FingerprintTrainConfig:
    """A CPU-sized surrogate config (residual encoder, short L2 schedule, own seed)."""
    return FingerprintTrainConfig(n_bits=n_bits, resolution=resolution, steps=steps, batch_size=32, lr=5e-4,
                                  output="residual", l2_await=max(1, steps // 6), l2_ramp=max(1, steps // 3),
                                  fallback_activation_step=steps // 2, checkpoint_every=0, seed=seed)


@dataclass(frozen=True)
class AdversaryConfig:
    surrogate: FingerprintTrainConfig
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    denoiser: DenoiserConfig | None = field(default_factory=DenoiserConfig)  # None: no denoiser trained
    version: int = 2  # 2: the PCA-initialised autoencoder and the denoiser


@dataclass(frozen=True)
class Adversary:
    encoder: FingerprintEncoder
    decoder: FingerprintDecoder
    autoencoder: RegenerationAutoencoder
    denoiser: Denoiser | None = None
    activated_at: int | None = None


def train_adversary(holdout: torch.Tensor, cfg: AdversaryConfig, *, device: str = "cpu",
                    progress: bool = False) -> Adversary:
    """Train the surrogate codec, the regeneration autoencoder and the denoiser on uint8 Nx3xRxR holdout images."""
    result = train_fingerprint(holdout, cfg.surrogate, device=device, progress=progress)
    autoencoder = train_autoencoder(holdout, cfg.autoencoder, device=device)
    denoiser = train_denoiser(holdout, cfg.denoiser, device=device) if cfg.denoiser is not None else None
    return Adversary(result.models.encoder.eval(), result.models.decoder.eval(), autoencoder.eval(), denoiser,
                     result.activated_at)


_NETS = ("encoder", "decoder", "autoencoder", "denoiser")


def adversary_state(adv: Adversary) -> dict[str, torch.Tensor]:
    """All weights in one flat dict (for ``ArtifactCache.tensors``)."""
    out = {}
    for prefix in _NETS:
        if getattr(adv, prefix) is None:
            continue
        out |= {f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in getattr(adv, prefix).state_dict().items()}
    return out


def adversary_from_state(state: dict[str, torch.Tensor], cfg: AdversaryConfig, *, device: str = "cpu") -> Adversary:
    s, a, d = cfg.surrogate, cfg.autoencoder, cfg.denoiser
    nets = {"encoder": FingerprintEncoder(s.n_bits, s.resolution, s.output),
            "decoder": FingerprintDecoder(s.n_bits, s.resolution),
            "autoencoder": RegenerationAutoencoder(a.patch, a.latent_channels, a.width)}
    if d is not None:
        nets["denoiser"] = Denoiser(d.depth, d.width)
    for prefix, net in nets.items():
        net.load_state_dict({k[len(prefix) + 1:]: v for k, v in state.items() if k.startswith(prefix + ".")})
        net.to(device).eval()
    return Adversary(**nets)
