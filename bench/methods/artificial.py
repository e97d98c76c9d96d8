"""The paper's method as a :class:`FingerprintMethod`: Yu et al.'s learned encoder/decoder
(``fpbench.fingerprint``), trained by ``fit`` with a :class:`FingerprintTrainConfig`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import torch

from fpbench.fingerprint.calibration import MAX_STRENGTH
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import decode_logits, embed
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder
from fpbench.fingerprint.perturb import KINDS
from fpbench.fingerprint.training import FingerprintTrainConfig, immunise_from, train_fingerprint
from fpbench.methods.base import FingerprintMethod, MethodError
from fpbench.methods.registry import register_method


@register_method("artificial_fingerprint")
class ArtificialFingerprint(FingerprintMethod):
    """Yu et al. (ICCV 2021): a learned encoder stamps the bits, a learned decoder reads them back.
    Options: the fields of :class:`FingerprintTrainConfig` (``steps``, ``target_psnr``, ...)."""

    id = "artificial_fingerprint"
    learned = True
    tunable = True  # the encoder's strength: the factor on its change to the image (as fitted: calibrated)
    strength_range = (1e-3, MAX_STRENGTH)

    def __init__(self, n_bits: int, resolution: int, **options: Any) -> None:
        super().__init__(n_bits, resolution)
        try:
            self.train_config = FingerprintTrainConfig(n_bits=n_bits, resolution=resolution, **options)
        except TypeError as exc:  # an unknown option
            known = ", ".join(f.name for f in dataclasses.fields(FingerprintTrainConfig))
            raise MethodError(f"{self.id}: {exc}; options are {known}") from None
        self.models = FingerprintModels(FingerprintEncoder(n_bits, resolution, self.train_config.output),
                                        FingerprintDecoder(n_bits, resolution))
        self.fitted = False

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "train": dataclasses.asdict(self.train_config)}

    @property
    def strength(self) -> float:
        return float(self.models.encoder.strength)

    @strength.setter
    def strength(self, value: float) -> None:
        self.models.encoder.strength = self.check_strength(value)

    def fit(self, images: torch.Tensor, *, seed: int = 0, progress: bool = False) -> ArtificialFingerprint:
        self.check_images(images, exact=True)
        if images.dtype != torch.uint8:
            raise MethodError(f"{self.id}: fit takes uint8 images (as files hold them), got {images.dtype}")
        cfg = dataclasses.replace(self.train_config, seed=self.train_config.seed + seed)
        self.models = train_fingerprint(images, cfg, progress=progress).models
        self.fitted = True
        return self

    def embed(self, images: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=True)
        return embed(self.models.encoder, x, self.check_fingerprints(fingerprints, len(x)))

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=False)
        return torch.sigmoid(decode_logits(self.models.decoder, x))

    def state_dict(self) -> dict[str, torch.Tensor]:
        state = {f"encoder.{k}": v for k, v in self.models.encoder.state_dict().items()}
        state |= {f"decoder.{k}": v for k, v in self.models.decoder.state_dict().items()}
        return state | {"strength": torch.tensor(float(self.models.encoder.strength))}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        for part, net in (("encoder", self.models.encoder), ("decoder", self.models.decoder)):
            net.load_state_dict({k[len(part) + 1:]: v for k, v in state.items() if k.startswith(part + ".")})
        self.models.encoder.strength = float(state["strength"])
        self.fitted = True


@register_method("artificial_fingerprint_immunised")
class ImmunisedFingerprint(ArtificialFingerprint):
    """The paper's networks, trained on through a differentiable perturbation layer (blur, noise,
    crop-and-resize, colour, kornia's differentiable JPEG) once the clean phase has taught them the bits
    (Yu et al., ICLR 2022; :mod:`fpbench.fingerprint.immunise`); evaluated with the real codecs like every
    method. Options as for the paper's method; ``perturbations`` default to all kinds and ``immunise_steps``
to 3/4 of its ``steps`` (empty or 0 mean these defaults: an immunised fingerprint always has its phase).

    ``fit(images, start=m)`` continues from ``m``, a fitted ``artificial_fingerprint`` trained with this
    method's config minus the perturbations: a run that has the paper's networks immunises them rather
    than training the clean phase twice (``warm_start``)."""

    id = "artificial_fingerprint_immunised"
    warm_start = "artificial_fingerprint"

    def __init__(self, n_bits: int, resolution: int, **options: Any) -> None:
        steps = options.get("steps", FingerprintTrainConfig.steps)
        options["perturbations"] = options.get("perturbations") or KINDS  # () or 0: the defaults, never none
        options["immunise_steps"] = options.get("immunise_steps") or (max(1, steps * 3 // 4)
                                                                       if isinstance(steps, int) else 1)
        super().__init__(n_bits, resolution, **options)

    @property
    def clean_config(self) -> FingerprintTrainConfig:
        """The paper's training this method starts from: its own config without the immunising phase."""
        return dataclasses.replace(self.train_config, perturbations=(), immunise_steps=0)

    def fit(self, images: torch.Tensor, *, seed: int = 0, progress: bool = False,
            start: FingerprintMethod | None = None) -> ImmunisedFingerprint:
        if start is None:
            return super().fit(images, seed=seed, progress=progress)
        self.check_images(images, exact=True)
        if type(start) is not ArtificialFingerprint or not start.fitted or start.train_config != self.clean_config:
            raise MethodError(f"{self.id}: can only continue from a fitted artificial_fingerprint trained with "
                              f"{self.clean_config}, got {getattr(start, 'id', type(start).__name__)!r}")
        cfg = dataclasses.replace(self.train_config, seed=self.train_config.seed + seed)
        self.models = immunise_from(start.models, images, cfg, progress=progress)
        self.fitted = True
        return self
