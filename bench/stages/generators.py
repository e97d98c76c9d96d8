"""Stage 2: the generator zoo. Each fingerprinted generator trains on the training set stamped with
its own fingerprint; the clean control trains on the unstamped set. Then every generator is sampled
and measured: fingerprint transfer, zoo-wide detection and attribution (paper Table 2) and FID
(paper Table 1, "original -> fingerprinted")."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from bench.cache import config_hash
from bench.fid import compute_fid
from bench.fingerprint.checkpoint import FingerprintModels
from bench.fingerprint.embedding import decode, embed, random_fingerprint, to_uint8
from bench.fingerprint.matching import NO_MATCH, attribute, bit_accuracy
from bench.generators import GanConfig, build, sample, train_gan
from bench.presets import GeneratorPlan
from bench.results import row
from bench.stages.context import RunContext
from bench.stages.data import RealImages
from bench.stages.fingerprint import DATA_FINGERPRINT_SEED, METHOD, fingerprint_rows


@dataclass
class Zoo:
    """The trained zoo: registered fingerprints (``data`` first), generators and their samples."""

    fingerprints: dict[str, torch.Tensor]
    generators: dict[str, nn.Module]
    configs: dict[str, GanConfig]
    samples: dict[str, torch.Tensor]  # uint8, every generator incl. clean controls
    clean_ids: list[str]

    @property
    def fingerprinted_ids(self) -> list[str]:
        return [g for g in self.generators if g not in self.clean_ids]


def fingerprint_seed(model_id: str) -> int:
    """A stable per-model fingerprint seed derived from the model id."""
    return int(hashlib.sha256(model_id.encode()).hexdigest()[:8], 16)


def gan_config(plan: GeneratorPlan, resolution: int) -> GanConfig:
    return GanConfig(arch=plan.arch, resolution=resolution, latent_dim=plan.latent_dim, width=plan.width,
                     steps=plan.steps, seed=plan.seed, loss=plan.loss, discriminator=plan.discriminator,
                     batch_size=plan.batch_size, lr_g=plan.lr, lr_d=plan.lr, checkpoint_every=max(1, min(500, plan.steps)))


def _train_one(ctx: RunContext, plan: GeneratorPlan, cfg: GanConfig, data: torch.Tensor, data_key: str) -> nn.Module:
    key = config_hash(cfg, data_key)
    G, _ = build(cfg.arch, cfg.resolution, cfg.latent_dim, cfg.width)

    def train() -> dict[str, torch.Tensor]:
        d = f", {cfg.discriminator} discriminator" if cfg.discriminator else ""
        ctx.log(f"training generator {plan.id} ({cfg.arch}{d}, {cfg.steps} steps, {cfg.loss} loss, "
                f"{'fingerprinted' if plan.fingerprinted else 'clean'} data)")
        resume = ctx.cache.file("generator", key, "partial.safetensors") if ctx.cache.enabled else None
        result = train_gan(data, cfg, checkpoint_path=resume, progress=ctx.progress, device=ctx.device)
        ctx.notes.setdefault("generator_steps_per_second", {})[plan.id] = round(result.steps_per_second, 2)
        if resume is not None and resume.exists():
            resume.unlink()
        return {k: v.detach().cpu() for k, v in result.generator.state_dict().items()}

    G.load_state_dict(ctx.cache.tensors("generator", key, train))
    return G.eval()


def train_zoo(ctx: RunContext, models: FingerprintModels, real: RealImages, model_key: str) -> Zoo:
    p = ctx.preset
    fingerprints = {"data": random_fingerprint(p.n_bits, DATA_FINGERPRINT_SEED)}
    generators, configs, samples, clean_ids = {}, {}, {}, []
    for plan in p.generators:
        cfg = gan_config(plan, p.resolution)
        if plan.fingerprinted:
            fp = random_fingerprint(p.n_bits, fingerprint_seed(plan.id))
            fingerprints[plan.id] = fp
            data_key = config_hash("stamped", model_key, fp, real.train)
            data = ctx.cache.tensors("stamped", data_key, lambda fp=fp: {
                "images": embed(models.encoder, real.train, fp, device=ctx.device)})["images"]
        else:
            clean_ids.append(plan.id)
            data_key, data = config_hash("clean", real.train), real.train
        generators[plan.id] = _train_one(ctx, plan, cfg, data, data_key)
        configs[plan.id] = cfg
        samples[plan.id] = to_uint8(sample(generators[plan.id], p.n_samples, seed=p.seed + 1))
    return Zoo(fingerprints, generators, configs, samples, clean_ids)


def evaluate_zoo(ctx: RunContext, models: FingerprintModels, real: RealImages, zoo: Zoo,
                 stamped_test: torch.Tensor) -> None:
    """Transfer, detection/attribution and FID rows for every generator (attack ``none``)."""
    p = ctx.preset
    ids = list(zoo.fingerprints)
    registered = torch.stack([zoo.fingerprints[m] for m in ids])
    real_bits = decode(models.decoder, real.test, device=ctx.device)
    negatives = [attribute(real_bits, registered, p.alpha).decision]
    bits = {g: decode(models.decoder, s, device=ctx.device) for g, s in zoo.samples.items()}
    for g in zoo.clean_ids:
        negatives.append(attribute(bits[g], registered, p.alpha).decision)
        accs = torch.stack([bit_accuracy(bits[g], zoo.fingerprints[m]) for m in ids[1:] or ids])
        ctx.rows.append(row(method=METHOD, model=g, metric="control_bit_accuracy", value=float(accs.mean()),
                            stderr=float(accs.mean(0).std() / math.sqrt(accs.shape[1])), n=accs.shape[1], seed=p.seed))
        ctx.rows.append(row(method=METHOD, model=g, metric="false_positive_rate", n=len(bits[g]), seed=p.seed,
                            value=float((negatives[-1] != NO_MATCH).float().mean())))
    tnr = float(torch.cat(negatives).eq(NO_MATCH).float().mean())
    n_neg = int(sum(len(n) for n in negatives))
    for g in zoo.fingerprinted_ids:
        ctx.rows += fingerprint_rows(g, bits[g], zoo.fingerprints[g], p.alpha, p.seed)
        decision = attribute(bits[g], registered, p.alpha).decision
        common = dict(method=METHOD, model=g, seed=p.seed, world="closed")
        ctx.rows.append(row(metric="attribution_accuracy", value=float((decision == ids.index(g)).float().mean()),
                            n=len(decision), **common))
        tpr = float((decision != NO_MATCH).float().mean())
        ctx.rows.append(row(metric="detection_accuracy", value=(tpr + tnr) / 2, n=len(decision) + n_neg, **common))
    extractor = ""
    reference = real.reference.float() / 255
    for g, s in zoo.samples.items():
        fid, extractor = compute_fid(s.float() / 255, reference, device=ctx.device)
        ctx.rows.append(row(method=METHOD, model=g, metric="fid", value=fid, n=len(s), seed=p.seed, extractor=extractor))
    # the paper's "FID(fingerprinted real, clean real)": the same held-out photos with and without the stamp
    fid, extractor = compute_fid(stamped_test.float() / 255, real.test.float() / 255, device=ctx.device)
    ctx.rows.append(row(method=METHOD, model="data", metric="fid", value=fid, n=len(stamped_test), seed=p.seed,
                        extractor=extractor))
    ctx.notes["fid_extractor"] = extractor
