"""Stage 2: the generator zoo. Each fingerprinted generator trains on the training set stamped with
its own fingerprint; the clean control trains on the unstamped set. Then every generator is sampled
and measured: fingerprint transfer, zoo-wide detection and attribution (paper Table 2) and FID
(paper Table 1, "original -> fingerprinted")."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from fpbench.cache import derive_key
from fpbench.evaluation.measure import DECISION_METRICS, Registered, match_rows, mean_stderr
from fpbench.evaluation.operating_points import binomial_stderr
from fpbench.fid import compute_fid
from fpbench.fingerprint.embedding import random_fingerprint, to_uint8
from fpbench.fingerprint.matching import NO_MATCH, bit_accuracy
from fpbench.generators import GanConfig, build, sample, train_gan
from fpbench.pipeline.executors import ProcessPool, RayPool, unordered
from fpbench.pipeline.presets import GeneratorPlan
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.fingerprint import data_fingerprint, stamped_key
from fpbench.results import row

VERSION = 1  # of generator training and sampling: bump when a change moves weights or samples


@dataclass
class Zoo:
    """The trained zoo: registered fingerprints (``data`` first), generators and their samples."""

    fingerprints: dict[str, torch.Tensor]
    generators: dict[str, nn.Module]
    configs: dict[str, GanConfig]
    samples: dict[str, torch.Tensor]  # uint8, every generator incl. clean controls
    clean_ids: list[str]
    keys: dict[str, str] = field(default_factory=dict)  # generator id -> cache key of its weights (data, fingerprint and config in it)
    # models brought by model cards (fpbench.zoo.ModelEntry) and decoded by the run's method: registered and
    # sampled like the zoo's (``fingerprints``, ``samples``, ``keys``), never trained on nor by the baselines
    external: dict = field(default_factory=dict)

    @property
    def fingerprinted_ids(self) -> list[str]:
        """The fingerprinted generators the run trained."""
        return [g for g in self.generators if g not in self.clean_ids]

    @property
    def evaluated_ids(self) -> list[str]:
        """Every fingerprinted model measured: the trained ones, then the cards'."""
        return self.fingerprinted_ids + list(self.external)


def fingerprint_seed(model_id: str, run_seed: int = 0) -> int:
    """A stable per-model fingerprint seed derived from the model id (and the run seed, when not 0)."""
    text = model_id if run_seed == 0 else f"{model_id}#seed{run_seed}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def gan_config(plan: GeneratorPlan, resolution: int) -> GanConfig:
    return GanConfig(arch=plan.arch, resolution=resolution, latent_dim=plan.latent_dim, width=plan.width,
                     steps=plan.steps, seed=plan.seed, loss=plan.loss, discriminator=plan.discriminator,
                     batch_size=plan.batch_size, lr_g=plan.lr, lr_d=plan.lr, checkpoint_every=max(1, min(500, plan.steps)))


@dataclass(frozen=True)
class _Job:
    plan: GeneratorPlan
    config: GanConfig
    load_data: Callable[[], torch.Tensor]  # called only if the generator must train (a cached one never reads it)
    key: str


def _describe(job: _Job) -> str:
    cfg = job.config
    d = f", {cfg.discriminator} discriminator" if cfg.discriminator else ""
    return (f"{job.plan.id} ({cfg.arch}{d}, {cfg.steps} steps x batch {cfg.batch_size}, {cfg.loss} loss, "
            f"{'fingerprinted' if job.plan.fingerprinted else 'clean'} data)")


def _train_job(data: torch.Tensor, config: GanConfig, checkpoint: Path | None, threads: int | None,
               progress: bool, device: str) -> tuple[dict[str, torch.Tensor], float]:
    """Train one generator (in this process or a pool worker): its released weights and steps/s."""
    if threads is not None:
        torch.set_num_threads(threads)
    result = train_gan(data, config, checkpoint_path=checkpoint, progress=progress, device=device)
    if checkpoint is not None and checkpoint.exists():
        checkpoint.unlink()
    return {k: v.detach().cpu() for k, v in result.generator.state_dict().items()}, result.steps_per_second


def _train_missing(ctx: RunContext, jobs: list[_Job]) -> dict[str, dict[str, torch.Tensor]]:
    """Train the generators not yet in the cache: in this process, or (``executor: ray``) as Ray tasks, or
    (``zoo.workers`` > 1 on CPU) in that many spawned processes sharing the threads. Whether processes pay
    depends on the networks: on 2 cores, two 1-thread workers trained batch-32 DCGANs at 25.5 steps/s each
    against 43 in one 2-thread process (+19%), but a width-32 ResNet G at 3.95 steps/s against 9.55. Each
    finished generator goes into the cache at once, so a failure later loses nothing already trained."""
    missing = [j for j in jobs if not (ctx.cache.enabled and ctx.cache.path("generator", j.key, "safetensors").exists())]
    executor = ctx.preset.executor
    workers = min(ctx.preset.zoo.workers, len(missing)) if ctx.device == "cpu" else 1
    trained: dict[str, dict[str, torch.Tensor]] = {}

    def done(job: _Job, state: dict[str, torch.Tensor], steps_per_second: float) -> None:
        ctx.notes.setdefault("generator_steps_per_second", {})[job.plan.id] = round(steps_per_second, 2)
        trained[job.key] = ctx.cache.tensors("generator", job.key, lambda: state)

    def resume(job: _Job) -> Path | None:
        return ctx.cache.file("generator", job.key, "partial.safetensors") if ctx.cache.enabled else None

    if not missing or (executor.kind == "local" and workers <= 1):
        for job in missing:
            ctx.log(f"training generator {_describe(job)}")
            done(job, *_train_job(job.load_data(), job.config, resume(job), None, ctx.progress, ctx.device))
        return trained
    if executor.kind == "ray":
        pool = RayPool(executor, ctx.device)
        ctx.notes["executor"] = {"kind": "ray", **pool.resources}
        device = "cuda" if ctx.device.startswith("cuda") else "cpu"
        where = f"Ray tasks of {pool.threads} CPU(s), {pool.slots} at once"
    else:
        pool, device = ProcessPool(workers, torch.get_num_threads()), "cpu"
        where = f"{workers} processes x {pool.threads} thread(s)"
    ctx.log(f"training {len(missing)} generators as {where}: " + "; ".join(_describe(j) for j in missing))
    by_key = {job.key: job for job in missing}
    queue = ((job.key, lambda job=job: (job.load_data(), job.config, resume(job), pool.threads, False, device))
             for job in missing)
    for key, (state, steps_per_second) in unordered(pool, _train_job, queue, desc="generators", unit="GAN",
                                                   total=len(missing), progress=ctx.progress):
        done(by_key[key], state, steps_per_second)
    return trained


def train_zoo(ctx: RunContext, codec, real: RealImages, plans: tuple | None = None) -> Zoo:
    """Train (or load) the generators of ``plans`` (default: the run's zoo) on the training photos stamped
    by ``codec``'s method (clean controls on the photos as they are, shared by every method)."""
    p = ctx.preset
    fingerprints = {"data": data_fingerprint(p)}
    jobs, clean_ids = [], []
    for plan in p.zoo.generators if plans is None else plans:
        cfg = gan_config(plan, p.resolution)
        if plan.fingerprinted:
            fp = random_fingerprint(p.n_bits, fingerprint_seed(plan.id, p.seed))
            fingerprints[plan.id] = fp
            data_key = stamped_key(fp, "train", encoder=codec.key, data=real.key)

            def data(fp: torch.Tensor = fp, data_key: str = data_key) -> torch.Tensor:
                return ctx.cache.tensors("stamped", data_key, lambda: {
                    "images": codec.stamp(real.train, fp)})["images"]
        else:
            clean_ids.append(plan.id)
            data_key, data = derive_key("clean", VERSION, {"split": "train"}, data=real.key), lambda: real.train
        jobs.append(_Job(plan, cfg, data, derive_key("generator", VERSION, cfg, data=data_key)))
    trained = _train_missing(ctx, jobs)
    generators, configs, samples = {}, {}, {}
    for job in jobs:
        G, _ = build(job.config.arch, job.config.resolution, job.config.latent_dim, job.config.width)
        G.load_state_dict(trained[job.key] if job.key in trained else ctx.cache.tensors(
            "generator", job.key, lambda j=job: _train_job(j.load_data(), j.config, None, None, ctx.progress,
                                                           ctx.device)[0]))
        generators[job.plan.id] = G.eval()
        configs[job.plan.id] = job.config
        samples[job.plan.id] = to_uint8(sample(generators[job.plan.id], p.zoo.n_samples, seed=p.seed + 1))
    keys = {job.plan.id: job.key for job in jobs}
    ctx.lineage["zoo"] = derive_key("zoo", VERSION, {"n_samples": p.zoo.n_samples, "sample_seed": p.seed + 1,
                                                     "fingerprints": fingerprints, "clean": clean_ids}, **keys)
    return Zoo(fingerprints, generators, configs, samples, clean_ids, keys)


def negative_pool(real: RealImages, zoo: Zoo, n: int | None = None) -> torch.Tensor:
    """The unfingerprinted images every detection measurement of a run is judged on: the real test photos
    and the clean controls' samples (the first ``n`` of each when given), uint8."""
    return torch.cat([real.test[:n], *(zoo.samples[c][:n] for c in zoo.clean_ids)])


def evaluate_zoo(ctx: RunContext, codec, real: RealImages, zoo: Zoo, stamped_test: torch.Tensor) -> None:
    """Transfer, detection/attribution and FID rows for every generator (attack ``none``), and the
    detection/attribution rows of the stamped photos (``data``) against the whole registry. Negatives:
    :func:`negative_pool`, as in the image-attack grid, so a neutral attack reproduces these rows."""
    p = ctx.preset
    reg = Registered(zoo.fingerprints)
    negatives = reg.attribute(codec.decode(negative_pool(real, zoo)), p.alpha)
    bits = {g: codec.decode(s) for g, s in zoo.samples.items()}
    others = reg.ids[1:] or reg.ids
    for g in zoo.clean_ids:
        accs = torch.stack([bit_accuracy(bits[g], zoo.fingerprints[m]) for m in others])
        ctx.rows.append(row(method=codec.method, model=g, metric="control_bit_accuracy", value=float(accs.mean()),
                            stderr=float(accs.mean(0).std() / math.sqrt(accs.shape[1])), n=accs.shape[1], seed=p.seed))
        flagged = reg.attribute(bits[g], p.alpha).decision != NO_MATCH
        ctx.rows.append(row(method=codec.method, model=g, metric="false_positive_rate", n=len(bits[g]), seed=p.seed,
                            value=float(flagged.float().mean())))
    sources = {"data": codec.decode(stamped_test),
               **{g: bits[g] for g in zoo.evaluated_ids}}
    for g, source_bits in sources.items():
        rows = match_rows(source_bits, model=g, registered=reg, alpha=p.alpha, method=codec.method, seed=p.seed,
                          negatives=negatives, world="closed")
        # the data rows that need no registry come from evaluate_data, over the same images
        ctx.rows += [r for r in rows if g != "data" or r.metric in DECISION_METRICS]
    # ``zoo``: every fingerprinted sample of the zoo pooled (the follow-up paper's one number per zoo size)
    if zoo.fingerprinted_ids:
        decisions = [(reg.attribute(bits[g], p.alpha).decision, reg.index(g)) for g in zoo.fingerprinted_ids]
        hit = torch.cat([d == own for d, own in decisions]).double()
        found = torch.cat([d != NO_MATCH for d, _ in decisions]).double()
        tpr, tnr = float(found.mean()), float((negatives.decision == NO_MATCH).double().mean())
        n, n_neg = len(hit), len(negatives.decision)
        common = dict(method=codec.method, model="zoo", seed=p.seed, world="closed")
        # transfer pooled over the zoo: each generator's samples against its own fingerprint (one number per
        # zoo, like the pooled attribution below)
        acc = torch.cat([bit_accuracy(bits[g], zoo.fingerprints[g]) for g in zoo.fingerprinted_ids])
        mean, stderr = mean_stderr(acc)
        ctx.rows.append(row(metric="bit_accuracy", value=mean, stderr=stderr, n=len(acc), **{**common, "world": ""}))
        ctx.rows.append(row(metric="attribution_accuracy", value=float(hit.mean()), n=n,
                            stderr=binomial_stderr(float(hit.mean()), n), **common))
        ctx.rows.append(row(metric="detection_accuracy", value=(tpr + tnr) / 2, n=n + n_neg, **common,
                            stderr=math.sqrt(binomial_stderr(tpr, n) ** 2 + binomial_stderr(tnr, n_neg) ** 2) / 2))
    extractor = ""
    reference = real.reference.float() / 255
    for g, s in zoo.samples.items():
        fid, extractor = compute_fid(s.float() / 255, reference, ctx.fid_extractor, device=ctx.device)
        ctx.rows.append(row(method=codec.method, model=g, metric="fid", value=fid, n=len(s), seed=p.seed, extractor=extractor))
    # the paper's "FID(fingerprinted real, clean real)": the same held-out photos with and without the stamp
    fid, extractor = compute_fid(stamped_test.float() / 255, real.test.float() / 255, ctx.fid_extractor,
                                 device=ctx.device)
    ctx.rows.append(row(method=codec.method, model="data", metric="fid", value=fid, n=len(stamped_test), seed=p.seed,
                        extractor=extractor))
    ctx.notes["fid_extractor"] = extractor
