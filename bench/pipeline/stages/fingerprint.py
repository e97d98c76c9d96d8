"""Stage 1: train (or load from cache) the fingerprint encoder/decoder, then measure it on held-out
fingerprinted real images (the paper's "data" row) and on clean images (the negative control)."""

from __future__ import annotations

import torch

from fpbench.cache import content_key, derive_key
from fpbench.evaluation.measure import fingerprint_rows, mean_stderr
from fpbench.fingerprint.calibration import MAX_IMAGES, Calibration, calibrate_strength
from fpbench.fingerprint.checkpoint import FingerprintModels, load_models, read_metadata, save_models
from fpbench.fingerprint.embedding import bits_to_str, embed, random_fingerprint
from fpbench.fingerprint.matching import bit_accuracy, is_fingerprinted
from fpbench.fingerprint.training import train_fingerprint
from fpbench.metrics import psnr, ssim
from fpbench.pipeline.config import SEED_STRIDE, RunConfig
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.results import row

METHOD = "artificial_fingerprint"
DATA_FINGERPRINT_SEED = 42  # the authors' default fingerprint seed
VERSION = 1  # of the fingerprint training code: bump when a change moves trained weights
STAMP_VERSION = 2  # of stamping (2: each stamped set calibrated on itself): bump when stamped pixels move


def data_fingerprint(preset: RunConfig) -> torch.Tensor:
    """The fingerprint stamped into the held-out photos (model ``data``): the authors' seed 42 for run
    seed 0, another fingerprint for every other seed."""
    return random_fingerprint(preset.n_bits, DATA_FINGERPRINT_SEED + SEED_STRIDE * preset.seed)


def fingerprint_models(ctx: RunContext, real: RealImages) -> tuple[FingerprintModels, str]:
    """The trained encoder/decoder and their cache key (also ``ctx.lineage["fingerprint"]``)."""
    cfg = ctx.preset.fingerprint
    key = derive_key("fingerprint", VERSION, cfg, data=real.key)
    ctx.lineage["fingerprint"] = key
    path = ctx.cache.file("fingerprint", key, "safetensors")
    if ctx.cache.enabled and path.exists():
        ctx.cache.hits.append(f"fingerprint/{key}")
        ctx.log(f"fingerprint encoder/decoder from cache ({path})")
        models = load_models(path, n_bits=cfg.n_bits, resolution=cfg.resolution, device=ctx.device)
        ctx.notes["fingerprint_strength"] = models.encoder.strength
        meta = read_metadata(path)
        if "psnr_calibrated" in meta:
            _note_calibration(ctx, Calibration(models.encoder.strength, float(meta["psnr_as_trained"]),
                                               float(meta["psnr_calibrated"])))
        return models, key
    ctx.cache.misses.append(f"fingerprint/{key}")
    ctx.log(f"training the fingerprint encoder/decoder: {cfg.n_bits} bits, {cfg.resolution}px, {cfg.steps} steps")
    resume = ctx.cache.file("fingerprint", key, "partial.pt") if ctx.cache.enabled else None
    result = train_fingerprint(real.train, cfg, device=ctx.device, resume_path=resume, progress=ctx.progress,
                               calibration_images=real.holdout)
    ctx.notes["fingerprint_activated_at"] = result.activated_at
    extra = {"activated_at": str(result.activated_at)}
    if result.calibration is not None:
        c = result.calibration
        ctx.log(f"calibrated to {cfg.target_psnr} dB: strength {c.strength:.3f} ({c.psnr_before:.2f} dB as trained "
                f"-> {c.psnr_after:.2f} dB on held-out images)")
        _note_calibration(ctx, c)
        extra |= {"psnr_as_trained": repr(c.psnr_before), "psnr_calibrated": repr(c.psnr_after)}
    ctx.notes["fingerprint_strength"] = result.models.encoder.strength
    save_models(result.models, path, extra)
    if resume is not None and resume.exists():
        resume.unlink()
    return result.models, key


def _note_calibration(ctx: RunContext, c: Calibration) -> None:
    """The manifest's record of this seed's calibration: target, strength, PSNR as trained and calibrated."""
    ctx.notes.setdefault("fingerprint_calibration", {})[str(ctx.preset.seed)] = {
        "target_psnr": ctx.preset.fingerprint.target_psnr, "strength": c.strength,
        "psnr_as_trained": c.psnr_before, "psnr_calibrated": c.psnr_after}


def stamped_key(fingerprint: torch.Tensor, split: str, *, encoder: str, data: str) -> str:
    """The cache key of ``split`` of the images ``data`` stamped with ``fingerprint`` by ``encoder``."""
    return derive_key("stamped", STAMP_VERSION, {"fingerprint": fingerprint, "split": split}, encoder=encoder,
                      data=data)


def stamp(ctx: RunContext, models: FingerprintModels, images: torch.Tensor, fingerprint: torch.Tensor) -> torch.Tensor:
    """``images`` stamped with ``fingerprint`` (uint8). With a ``target_psnr`` in the fingerprint config the
    strength is calibrated for this fingerprint on these images (the first ``calibration.MAX_IMAGES``), so
    every stamped set of the run is at the target as measured on itself: a publisher stamping a data set
    chooses the strength for that data set. (Calibrating on other held-out images left the test set 0.2 dB
    and 0.7 dB off a 32 dB target at 1 and 2 threads.)"""
    target = ctx.preset.fingerprint.target_psnr
    strength = None
    if target is not None:
        cache = ctx.artifacts.setdefault("strengths", {})
        tag = (ctx.lineage["fingerprint"], bits_to_str(fingerprint), content_key(images[:MAX_IMAGES]))
        if tag not in cache:
            cache[tag] = calibrate_strength(models.encoder, images, target, fingerprint=fingerprint,
                                            device=ctx.device).strength
        strength = cache[tag]
    return embed(models.encoder, images, fingerprint, device=ctx.device, strength=strength)


def evaluate_data(ctx: RunContext, codec, real: RealImages) -> dict[str, torch.Tensor]:
    """Rows for fingerprinted held-out real images (model ``data``) and clean ones (model ``real``), for the
    method of ``codec`` (a :class:`fpbench.pipeline.stages.codec.Codec`)."""
    p = ctx.preset
    fp = data_fingerprint(p)
    stamped = codec.stamp(real.test, fp)
    bits = codec.decode(stamped)
    clean_bits = codec.decode(real.test)
    x, y = real.test.float() / 255, stamped.float() / 255
    ctx.rows += fingerprint_rows(bits, fp, model="data", alpha=p.alpha, method=codec.method, seed=p.seed)
    q_psnr, q_ssim = psnr(x, y), ssim(x, y)
    common = dict(method=codec.method, model="data", n=len(x), seed=p.seed)
    ctx.rows.append(row(metric="psnr", value=float(q_psnr.mean()), stderr=mean_stderr(q_psnr)[1], **common))
    ctx.rows.append(row(metric="ssim", value=float(q_ssim.mean()), stderr=mean_stderr(q_ssim)[1], **common))
    clean_acc = bit_accuracy(clean_bits, fp)
    flagged = is_fingerprinted(clean_bits, fp, p.alpha).float()
    common["model"] = "real"
    ctx.rows.append(row(metric="control_bit_accuracy", value=float(clean_acc.mean()),
                        stderr=mean_stderr(clean_acc)[1], **common))
    ctx.rows.append(row(metric="false_positive_rate", value=float(flagged.mean()), **common))
    if codec.method == METHOD:
        ctx.notes.setdefault("data_psnr", {})[str(p.seed)] = float(q_psnr.mean())
    return {"fingerprint": fp, "stamped_test": stamped}
