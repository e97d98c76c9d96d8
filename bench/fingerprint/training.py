"""Steganography training of the fingerprint encoder/decoder (stage 1 of the paper).

Loss = w_L2(step) * MSE(E(x, w), x) + bce_weight * BCEWithLogits(D(E(x, w)), w) with fresh random
fingerprints w every batch. The L2 weight follows the authors' schedule: 0 until some batch first
exceeds ``activation_accuracy`` bit accuracy, then 0 for ``l2_await`` more steps, then a linear ramp
to ``l2_weight`` over ``l2_ramp`` steps.

The trap users hit upstream: if bit accuracy never reaches the activation threshold, the fidelity loss
never switches on. Here that is reported loudly (a :class:`TrainingWarning` and the result's
``activated_at`` is None), and ``fallback_activation_step`` (documented fallback) starts the schedule
anyway at that step. ``hardening_steps`` > 0 adds a decoder-only phase at the end
(:mod:`fpbench.fingerprint.hardening`; not in the paper); ``immunise_steps`` > 0 a phase through the
perturbation layer before it (:mod:`fpbench.fingerprint.immunise`).
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import record_function
from tqdm.auto import tqdm

from fpbench.atomic import write_atomic
from fpbench.fingerprint.calibration import Calibration, calibrate_strength
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.hardening import harden_decoder
from fpbench.fingerprint.immunise import immunise
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder, initialise
from fpbench.fingerprint.perturb import check_kinds, perturb

# the training loop's phases, each timed in a torch.profiler range PROFILE_PREFIX + phase (fpbench.profiling)
PROFILE_PREFIX = "fpbench.fingerprint."
PROFILE_PHASES = ("data", "forward", "backward", "optimizer", "logging", "checkpoint")


class TrainingWarning(UserWarning):
    """Training did something a user must know about (e.g. the fidelity loss never switched on)."""


@dataclass(frozen=True)
class FingerprintTrainConfig:
    n_bits: int = 100
    resolution: int = 128
    steps: int = 20 * 3125  # the authors' 20 epochs of CelebA at batch 64
    batch_size: int = 64
    lr: float = 1e-4
    bce_weight: float = 1.0
    l2_weight: float = 10.0
    activation_accuracy: float = 0.9
    l2_await: int = 1000
    l2_ramp: int = 3000
    fallback_activation_step: int | None = None
    output: str = "sigmoid"
    init: str = "kaiming"
    seed: int = 42
    checkpoint_every: int = 500
    version: int = 1
    hardening_steps: int = 0  # decoder-only phase after training (fpbench.fingerprint.hardening); 0 = the paper's
    hardening_noise: float = 0.03
    hardening_blur_sigma: float = 1.0
    hardening_ema: float = 0.0  # > 0: the decoder is the EMA of its weights over the hardening phase
    # calibrate the encoder's strength after training so held-out images land at this PSNR (dB), before
    # hardening (fpbench.fingerprint.calibration); None = as trained (the paper's)
    target_psnr: float | None = None
    # immunised training (fpbench.fingerprint.perturb): the decoder reads the stamped batch through one of
    # these differentiable perturbations per image, from `perturb_await` steps after activation on; () = the paper's
    perturbations: tuple[str, ...] = ()
    perturb_await: int = 0
    # > 0: the main training stays the paper's and the perturbations act only in this many more steps after
    # it (fpbench.fingerprint.immunise), before calibration and hardening
    immunise_steps: int = 0

    def __post_init__(self) -> None:  # refused when the preset is defined, not after training
        object.__setattr__(self, "perturbations", check_kinds(tuple(self.perturbations)))
        if self.perturb_await < 0:
            raise ValueError(f"perturb_await must be >= 0 steps, got {self.perturb_await}")
        if isinstance(self.immunise_steps, bool) or not isinstance(self.immunise_steps, int) \
                or self.immunise_steps < 0:
            raise ValueError(f"immunise_steps must be an int >= 0, got {self.immunise_steps!r}")
        if self.immunise_steps and not self.perturbations:
            raise ValueError("immunise_steps needs perturbations to train through, e.g. perturbations=KINDS "
                             "(fpbench.fingerprint.perturb)")
        t = self.target_psnr
        if t is not None and (isinstance(t, bool) or not isinstance(t, (int, float)) or not 10 <= t <= 80):
            raise ValueError(f"target_psnr must be None or a PSNR in dB between 10 and 80, got {t!r}")


@dataclass(frozen=True)
class TrainingResult:
    models: FingerprintModels
    steps: int
    activated_at: int | None
    history: list[dict[str, float]]
    calibration: Calibration | None = None


def l2_weight_at(step: int, activated_at: int | None, cfg: FingerprintTrainConfig) -> float:
    if activated_at is None:
        return 0.0
    t = step - activated_at - cfg.l2_await
    if t <= 0:
        return 0.0
    return cfg.l2_weight * min(1.0, t / max(1, cfg.l2_ramp))


def _save_state(path: Path, enc, dec, opt, step: int, activated_at: int | None, history: list,
                gen: torch.Generator) -> None:
    state = {"encoder": enc.state_dict(), "decoder": dec.state_dict(), "optimizer": opt.state_dict(),
             "rng": gen.get_state(),
             "step": torch.tensor(step), "activated_at": torch.tensor(-1 if activated_at is None else activated_at),
             "history": torch.tensor([[h["step"], h["bit_accuracy"], h["psnr"], h["loss"], h["l2_weight"]]
                                      for h in history], dtype=torch.float64).reshape(-1, 5)}
    write_atomic(path, lambda p: torch.save(state, p))


def train_fingerprint(images: torch.Tensor, cfg: FingerprintTrainConfig, *, device: str = "cpu",
                      resume_path: str | Path | None = None, progress: bool = True,
                      calibration_images: torch.Tensor | None = None) -> TrainingResult:
    """Train encoder and decoder on uint8 Nx3xRxR images. Resumes from ``resume_path`` if it exists and
    saves there every ``checkpoint_every`` steps (tensors only; loaded with ``weights_only=True``). With
    ``cfg.target_psnr`` the encoder's strength is calibrated on ``calibration_images`` (held-out uint8
    images; default: the training images)."""
    if images.ndim != 4 or images.shape[1] != 3 or images.shape[2:] != (cfg.resolution, cfg.resolution):
        raise ValueError(f"training images must be Nx3x{cfg.resolution}x{cfg.resolution}, got {tuple(images.shape)}")
    if images.dtype != torch.uint8:
        raise ValueError(f"training images must be uint8, got {images.dtype}")
    with torch.random.fork_rng(devices=[]):  # seeded initialisation without touching the caller's RNG
        torch.manual_seed(cfg.seed)
        enc = FingerprintEncoder(cfg.n_bits, cfg.resolution, cfg.output)
        dec = FingerprintDecoder(cfg.n_bits, cfg.resolution)
        initialise(enc, cfg.init)
        initialise(dec, cfg.init)
    enc, dec = enc.to(device), dec.to(device)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=cfg.lr)
    start, activated_at, history = 0, None, []
    resume_path = Path(resume_path) if resume_path else None
    if resume_path and resume_path.exists():
        state = torch.load(resume_path, map_location=device, weights_only=True)
        enc.load_state_dict(state["encoder"])
        dec.load_state_dict(state["decoder"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
        activated_at = None if int(state["activated_at"]) < 0 else int(state["activated_at"])
        history = [dict(zip(("step", "bit_accuracy", "psnr", "loss", "l2_weight"), row.tolist(), strict=True))
                   for row in state["history"]]
    gen = torch.Generator().manual_seed(cfg.seed * 1000003)
    if start:  # continue the batch/fingerprint stream where the interrupted run left it
        if "rng" in state:
            gen.set_state(state["rng"])
        else:  # a partial checkpoint from before the stream was saved: cannot match an uninterrupted run
            gen.manual_seed(cfg.seed * 1000003 + start)
    enc.train()
    dec.train()
    bar = tqdm(total=cfg.steps, initial=start, desc="fingerprint", disable=not progress, dynamic_ncols=True)
    # each phase in a profiler range of its own (PROFILE_PREFIX + phase, not nested): fpbench.profiling
    for step in range(start, cfg.steps):
        with record_function(PROFILE_PREFIX + "data"):
            idx = torch.randint(0, len(images), (cfg.batch_size,), generator=gen)
            x = images[idx].to(device).float().div_(255)
            bits = torch.randint(0, 2, (cfg.batch_size, cfg.n_bits), generator=gen).float().to(device)
        with record_function(PROFILE_PREFIX + "forward"):
            stamped = enc(x, bits)
            if cfg.perturbations and not cfg.immunise_steps and activated_at is not None \
                    and step >= activated_at + cfg.perturb_await:
                # one generator per step: resumable without saving its state, and the batch stream stays the paper's
                logits = dec(perturb(stamped, cfg.perturbations,
                                     torch.Generator().manual_seed(cfg.seed * 7919 + step)))
            else:
                logits = dec(stamped)
            bce = F.binary_cross_entropy_with_logits(logits, bits)
            mse = F.mse_loss(stamped, x)
            w_l2 = l2_weight_at(step, activated_at, cfg)
            loss = w_l2 * mse + cfg.bce_weight * bce
        with record_function(PROFILE_PREFIX + "backward"):
            opt.zero_grad(set_to_none=True)
            loss.backward()
        with record_function(PROFILE_PREFIX + "optimizer"):
            opt.step()
        with record_function(PROFILE_PREFIX + "logging"):  # .item() syncs with the device: counted here
            acc = ((logits > 0).float() == bits).float().mean().item()
            if activated_at is None and acc > cfg.activation_accuracy:
                activated_at = step
            if activated_at is None and cfg.fallback_activation_step is not None \
                    and step >= cfg.fallback_activation_step:
                warnings.warn(f"bit accuracy never exceeded {cfg.activation_accuracy} in {step} steps; starting "
                              f"the L2 schedule anyway (fallback_activation_step={cfg.fallback_activation_step})",
                              TrainingWarning, stacklevel=2)
                activated_at = step
            psnr = 10 * math.log10(1 / max(mse.item(), 1e-12))
            if step % 25 == 0 or step == cfg.steps - 1:
                history.append({"step": step, "bit_accuracy": acc, "psnr": psnr, "loss": loss.item(),
                                "l2_weight": w_l2})
                bar.set_postfix(acc=f"{acc:.3f}", psnr=f"{psnr:.1f}", loss=f"{loss.item():.3f}", w_l2=f"{w_l2:.2f}")
            bar.update(1)
        if resume_path and cfg.checkpoint_every and (step + 1) % cfg.checkpoint_every == 0 and step + 1 < cfg.steps:
            with record_function(PROFILE_PREFIX + "checkpoint"):
                _save_state(resume_path, enc, dec, opt, step + 1, activated_at, history, gen)
    bar.close()
    if activated_at is None:
        warnings.warn(
            f"bit accuracy never exceeded {cfg.activation_accuracy}: the fidelity (L2) loss never switched on and "
            "fingerprinted images may look nothing like their inputs. Train longer, raise lr, use init='kaiming', "
            "or set fallback_activation_step to start the L2 ramp after N steps.", TrainingWarning, stacklevel=2)
    if cfg.immunise_steps:
        immunise(enc, dec, images, cfg, device=device, progress=progress)
    calibration = finish(enc, dec, images, cfg, device=device, progress=progress,
                         calibration_images=calibration_images)
    return TrainingResult(FingerprintModels(enc.eval(), dec.eval()), cfg.steps, activated_at, history, calibration)


def finish(enc: FingerprintEncoder, dec: FingerprintDecoder, images: torch.Tensor, cfg: FingerprintTrainConfig, *,
           device: str = "cpu", progress: bool = True,
           calibration_images: torch.Tensor | None = None) -> Calibration | None:
    """After training: calibrate the encoder to ``cfg.target_psnr`` (if set) on ``calibration_images``
    (default: ``images``), then harden the decoder for ``cfg.hardening_steps``. In place."""
    calibration = None
    if cfg.target_psnr is not None:
        held_out = images if calibration_images is None or len(calibration_images) == 0 else calibration_images
        calibration = calibrate_strength(enc, held_out, cfg.target_psnr, seed=cfg.seed, device=device)
        enc.strength = calibration.strength
    if cfg.hardening_steps:
        harden_decoder(enc, dec, images, steps=cfg.hardening_steps, n_bits=cfg.n_bits, batch_size=cfg.batch_size,
                       noise_std=cfg.hardening_noise, blur_sigma=cfg.hardening_blur_sigma,
                       ema_decay=cfg.hardening_ema, seed=cfg.seed,
                       device=device, progress=progress)
    return calibration


def immunise_from(models: FingerprintModels, images: torch.Tensor, cfg: FingerprintTrainConfig, *,
                  device: str = "cpu", progress: bool = True,
                  calibration_images: torch.Tensor | None = None) -> FingerprintModels:
    """A copy of trained ``models`` (the paper's clean phase) immunised for ``cfg.immunise_steps``, then
    calibrated and hardened as ``cfg`` says; ``models`` are left as they were."""
    if not cfg.immunise_steps:
        raise ValueError("immunise_from needs cfg.immunise_steps > 0")
    enc, dec = copy.deepcopy(models.encoder).to(device), copy.deepcopy(models.decoder).to(device)
    immunise(enc, dec, images, cfg, device=device, progress=progress)
    finish(enc, dec, images, cfg, device=device, progress=progress, calibration_images=calibration_images)
    return FingerprintModels(enc.eval(), dec.eval())


def config_dict(cfg: FingerprintTrainConfig) -> dict:
    return asdict(cfg)


def with_overrides(cfg: FingerprintTrainConfig, **changes: object) -> FingerprintTrainConfig:
    return replace(cfg, **changes)
