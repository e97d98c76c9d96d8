"""Stage 1: train (or load from cache) the fingerprint encoder/decoder, then measure it on held-out
fingerprinted real images (the paper's "data" row) and on clean images (the negative control)."""

from __future__ import annotations

import math

import torch

from bench.cache import config_hash
from bench.fingerprint.checkpoint import FingerprintModels, load_models, save_models
from bench.fingerprint.embedding import decode, embed, random_fingerprint
from bench.fingerprint.matching import bit_accuracy, is_fingerprinted, log_binom_sf
from bench.fingerprint.training import train_fingerprint
from bench.metrics import psnr, ssim
from bench.results import Row, row
from bench.stages.context import RunContext
from bench.stages.data import RealImages

METHOD = "artificial_fingerprint"
DATA_FINGERPRINT_SEED = 42  # the authors' default fingerprint seed


def fingerprint_models(ctx: RunContext, real: RealImages) -> tuple[FingerprintModels, str]:
    """The trained encoder/decoder and their cache key."""
    cfg = ctx.preset.fingerprint
    key = config_hash(cfg, real.train)
    path = ctx.cache.file("fingerprint", key, "safetensors")
    if ctx.cache.enabled and path.exists():
        ctx.cache.hits.append(f"fingerprint/{key}")
        ctx.log(f"fingerprint encoder/decoder from cache ({path})")
        return load_models(path, n_bits=cfg.n_bits, resolution=cfg.resolution, device=ctx.device), key
    ctx.cache.misses.append(f"fingerprint/{key}")
    ctx.log(f"training the fingerprint encoder/decoder: {cfg.n_bits} bits, {cfg.resolution}px, {cfg.steps} steps")
    resume = ctx.cache.file("fingerprint", key, "partial.pt") if ctx.cache.enabled else None
    result = train_fingerprint(real.train, cfg, device=ctx.device, resume_path=resume, progress=ctx.progress)
    ctx.notes["fingerprint_activated_at"] = result.activated_at
    save_models(result.models, path, {"activated_at": str(result.activated_at)})
    if resume is not None and resume.exists():
        resume.unlink()
    return result.models, key


def _mean_stderr(values: torch.Tensor) -> tuple[float, float]:
    v = values.double()
    return float(v.mean()), float(v.std() / math.sqrt(len(v))) if len(v) > 1 else math.nan


def fingerprint_rows(model: str, bits: torch.Tensor, fingerprint: torch.Tensor, alpha: float, seed: int,
                     **where: object) -> list[Row]:
    """bit_accuracy (mean +- stderr), median p-value and log10 p-value, and pass rate for one model."""
    acc = bit_accuracy(bits, fingerprint)
    k = (acc * bits.shape[1]).round().long()
    log_p = log_binom_sf(k, bits.shape[1])
    passed = is_fingerprinted(bits, fingerprint, alpha).float()
    n = len(bits)
    mean, se = _mean_stderr(acc)
    median_log_p = float(log_p.median())
    common = dict(method=METHOD, model=model, n=n, seed=seed, **where)
    return [
        row(metric="bit_accuracy", value=mean, stderr=se, **common),
        row(metric="p_value", value=math.exp(median_log_p), **common),
        row(metric="log10_p_value", value=median_log_p / math.log(10), **common),
        row(metric="pass_rate", value=float(passed.mean()), stderr=_mean_stderr(passed)[1], **common),
    ]


def evaluate_data(ctx: RunContext, models: FingerprintModels, real: RealImages) -> dict[str, torch.Tensor]:
    """Rows for fingerprinted held-out real images (model ``data``) and clean ones (model ``real``)."""
    p = ctx.preset
    fp = random_fingerprint(p.n_bits, DATA_FINGERPRINT_SEED)
    stamped = embed(models.encoder, real.test, fp, device=ctx.device)
    bits = decode(models.decoder, stamped, device=ctx.device)
    clean_bits = decode(models.decoder, real.test, device=ctx.device)
    x, y = real.test.float() / 255, stamped.float() / 255
    ctx.rows += fingerprint_rows("data", bits, fp, p.alpha, p.seed)
    q_psnr, q_ssim = psnr(x, y), ssim(x, y)
    common = dict(method=METHOD, model="data", n=len(x), seed=p.seed)
    ctx.rows.append(row(metric="psnr", value=float(q_psnr.mean()), stderr=_mean_stderr(q_psnr)[1], **common))
    ctx.rows.append(row(metric="ssim", value=float(q_ssim.mean()), stderr=_mean_stderr(q_ssim)[1], **common))
    clean_acc = bit_accuracy(clean_bits, fp)
    flagged = is_fingerprinted(clean_bits, fp, p.alpha).float()
    common["model"] = "real"
    ctx.rows.append(row(metric="control_bit_accuracy", value=float(clean_acc.mean()),
                        stderr=_mean_stderr(clean_acc)[1], **common))
    ctx.rows.append(row(metric="false_positive_rate", value=float(flagged.mean()), **common))
    return {"fingerprint": fp, "stamped_test": stamped}
