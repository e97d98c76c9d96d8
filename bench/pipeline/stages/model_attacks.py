"""Stage 4: model-level attacks on released generators. For every attack x severity the attacked
generator is sampled and measured: fingerprint bit accuracy, pass rate, attribution, and FID, so a
reader sees whether the fingerprint dies before or after the model itself is ruined. Model cards whose
callable returns an ``nn.Module`` are targets too; an attack that needs what a card lacks (its training
recipe, a sibling to merge with) is skipped for it with a warning.

With ``executor: ray`` each (target, attack, severity) cell whose rows are not cached runs as a Ray task
(:func:`_measure_job`). The task gets plain values (the generators' configs and weights, the attack's id
and value, the decoder's weights, the FID extractor's id) and rebuilds the rest: it attacks, samples,
decodes and extracts the FID features as this process would on as many torch threads; matching the bits
and the FID distance (numpy/SciPy, whose last bits follow the BLAS threads) stay here, as in a local run.
Each finished cell is cached as it arrives; its rows join the results in cell order, as a local run adds
them. A card's generator (no config to rebuild it from) and a codec made by hand are measured here.

Each cell measured (not read from the cache) adds to ``ctx.notes["model_attack_throughput"]``, per attack:
``images_per_second`` (samples drawn, decoded and put through the FID extractor per second; the attack
and the FID distance excluded) and, for an attack that trains, ``steps_per_second`` (its training steps
per second of the attack call). A Ray task times its own work and returns the timing with its result."""

from __future__ import annotations

import dataclasses
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from fpbench.attacks.context import SETTING_FIELDS, AttackContext
from fpbench.attacks.registry import get_attack
from fpbench.evaluation.measure import Registered, match_rows
from fpbench.fid import fid_features, fid_from_features
from fpbench.fingerprint.embedding import to_uint8
from fpbench.generators import GanConfig, build, sample
from fpbench.pipeline.executors import RayPool, unordered
from fpbench.pipeline.stages.codec import PortableDecoder, cpu_state, portable_decoder, rebuild_decode
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.generators import Zoo
from fpbench.pipeline.stages.image_attacks import attack_grids
from fpbench.pipeline.stages.throughput import Timing, attack_steps, record
from fpbench.results import Row, row, rows_from_frame, to_frame
from fpbench.warnings import FpbenchWarning

VERSION = 1  # of this stage's measurement code
THROUGHPUT = "model_attack_throughput"  # the ctx.notes (and manifest) key of this stage's throughput


def _context(target: str, zoo: Zoo, real: RealImages, device: str, finetune_steps: int) -> AttackContext:
    """Everything this stage can offer an attack on ``target``: clean real training images and the
    generator's training config (to fine-tune with), the device, and a second fingerprinted generator of the
    same architecture (to merge with) and a clean control of the same architecture (a model soup's other
    ingredient) when the zoo has them. Each attack takes what it declared."""
    if target not in zoo.configs:  # a card's generator: no training recipe, no sibling to merge with
        return AttackContext(data=real.train, device=device, finetune_steps=finetune_steps)
    arch = zoo.configs[target].arch
    others = [g for g in zoo.fingerprinted_ids if g != target and zoo.configs[g].arch == arch]
    clean = [g for g in zoo.clean_ids if g in zoo.configs and zoo.configs[g].arch == arch]
    return AttackContext(data=real.train, gan_config=zoo.configs[target], device=device, finetune_steps=finetune_steps,
                         other_model=zoo.generators[others[0]] if others else None,
                         clean_model=zoo.generators[clean[0]] if clean else None)


def _generator(zoo: Zoo, target: str):
    return zoo.generators[target] if target in zoo.generators else zoo.external[target].generator


def _attacked(spec, generator: nn.Module, value: float, context: AttackContext, *,
              decode: Callable[[torch.Tensor], torch.Tensor], n_samples: int, seed: int
              ) -> tuple[torch.Tensor, torch.Tensor, Timing]:
    """``generator`` attacked by ``spec`` at ``value``: its samples (uint8), their decoded bits, and the
    timing of the work (the attack's training steps in its own seconds, sampling and decoding in
    ``seconds``)."""
    start = time.perf_counter()
    attacked = spec(generator, value, seed=seed, context=context)
    attack_seconds, start = time.perf_counter() - start, time.perf_counter()
    images = to_uint8(sample(attacked, n_samples, seed=seed + 1))
    bits = decode(images)
    timing = Timing(len(images), time.perf_counter() - start, attack_steps(spec, value, context), attack_seconds)
    return images, bits, timing


def _plus(timing: Timing, start: float) -> Timing:
    """``timing`` with the seconds since ``start`` (a ``time.perf_counter()``) added to its measured work."""
    return dataclasses.replace(timing, seconds=timing.seconds + time.perf_counter() - start)


def _cell_rows(bits: torch.Tensor, fid: float, extractor: str, *, attack: str, attack_version: int, value: float,
               severity: int, target: str, registered: Registered, method: str, seed: int,
               alpha: float) -> pd.DataFrame:
    """One cell's rows: the attacked generator's decoded ``bits`` matched against the registry, and its FID."""
    where = dict(attack=attack, attack_kind="model", param=float(value), severity=severity,
                 attack_version=attack_version)
    rows = match_rows(bits, model=target, registered=registered, alpha=alpha, method=method, seed=seed, where=where)
    rows.append(row(method=method, model=target, metric="fid", value=fid, n=len(bits), seed=seed,
                    extractor=extractor, **where))
    return to_frame(rows)


@dataclass(frozen=True)
class _Weights:
    """A zoo generator as plain values: its training config and weights (:func:`_rebuild`)."""

    config: GanConfig
    state: dict[str, torch.Tensor]


def _rebuild(weights: _Weights) -> nn.Module:
    cfg = weights.config
    G, _ = build(cfg.arch, cfg.resolution, cfg.latent_dim, cfg.width)  # as train_zoo builds it
    G.load_state_dict(weights.state)
    return G.eval()


@dataclass(frozen=True)
class _CellTask:
    """One cell as a Ray task's argument: plain values, nothing of the run itself."""

    attack: str  # the attack's id, looked up in the registry where the task runs
    attack_version: int
    value: float  # as the grid holds it (an int for an integer attack)
    generator: _Weights
    context: dict[str, Any]  # the context fields the attack takes; a model as _Weights
    decoder: PortableDecoder
    reference: torch.Tensor  # uint8: the FID reference images
    extractor: str  # the run's resolved FID extractor id
    n_samples: int
    seed: int


def _measure_job(task: _CellTask, threads: int, device: str
                 ) -> tuple[torch.Tensor, np.ndarray, np.ndarray, str, Timing]:
    """The torch part of one model-attack cell as a Ray task on ``threads`` torch threads: the attacked
    generator's decoded bits, the FID features of its samples and of the reference, the extractor id, and
    the timing of this work where it ran.
    The driver matches the bits and takes the FID distance (:func:`fid_from_features`) as a local run does:
    the distance's last bits depend on numpy's and SciPy's BLAS threads, which Ray sets to the task's CPUs."""
    torch.set_num_threads(threads)
    spec = get_attack(task.attack)
    if spec.version != task.attack_version:
        raise RuntimeError(f"attack {task.attack} is version {spec.version} in this Ray worker but "
                           f"{task.attack_version} in the driver: install the same fpbench on every node")
    fields = {name: _rebuild(v) if isinstance(v, _Weights) else v for name, v in task.context.items()}
    if "device" in fields:
        fields["device"] = device
    images, bits, timing = _attacked(spec, _rebuild(task.generator), task.value, AttackContext(**fields),
                                     decode=rebuild_decode(task.decoder, device), n_samples=task.n_samples,
                                     seed=task.seed)
    start = time.perf_counter()
    feats, reference, extractor = fid_features(images.float() / 255, task.reference.float() / 255, task.extractor,
                                               device=device)
    return bits, feats, reference, extractor, _plus(timing, start)


@dataclass(frozen=True)
class _Cell:
    key: str
    attack: str  # the attack's id: its throughput's name in the manifest
    what: str  # "<attack> <param>=<value> on <target>", for the log
    measure: Callable[[], pd.DataFrame]  # the cell computed in this process
    task: Callable[[], _CellTask] | None  # the cell as a Ray task's argument (None: it runs here)
    rows: Callable[[torch.Tensor, float, str], pd.DataFrame]  # (bits, fid, extractor) -> its rows


def _measure_on_ray(ctx: RunContext, cells: list[_Cell]) -> list[Row]:
    """The rows of every cell, in cell order. Cells not cached run as Ray tasks, each cached as it arrives;
    cached cells, and those that cannot leave this process, are read or measured here."""
    missing = [i for i, cell in enumerate(cells) if cell.task is not None
               and not (ctx.cache.enabled and ctx.cache.path("model_attack", cell.key, "csv").exists())]
    frames: dict[int, pd.DataFrame] = {}
    if missing:
        pool = RayPool(ctx.preset.executor, ctx.device)
        ctx.notes.setdefault("executor", {"kind": "ray", **pool.resources})
        device = "cuda" if ctx.device.startswith("cuda") else "cpu"
        ctx.log(f"measuring {len(missing)} model-attack cells as Ray tasks of {pool.threads} CPU(s), "
                f"{pool.slots} at once")

        def make_args(cell: _Cell) -> tuple:
            ctx.log(f"model attack {cell.what} (Ray task)")
            return cell.task(), pool.threads, device

        jobs = ((i, lambda cell=cells[i]: make_args(cell)) for i in missing)
        for i, (bits, feats, reference, extractor, timing) in unordered(
                pool, _measure_job, jobs, desc="model attacks", unit="cell", total=len(missing), progress=ctx.progress):
            record(ctx, THROUGHPUT, cells[i].attack, timing)
            df = cells[i].rows(bits, fid_from_features(feats, reference), extractor)
            frames[i] = ctx.cache.rows("model_attack", cells[i].key, lambda df=df: df)
    rows: list[Row] = []
    for i, cell in enumerate(cells):
        df = frames.pop(i) if i in frames else ctx.cache.rows("model_attack", cell.key, cell.measure)
        rows += rows_from_frame(df)
    return rows


def run_model_attacks(ctx: RunContext, codec, real: RealImages, zoo: Zoo, *, skip_unmet: bool = False,
                      attacks: tuple[str, ...] | None = None) -> None:
    """Every model attack (``attacks``, default: the run's) on every target. An attack whose needs the zoo cannot meet (weight averaging
    without a second generator of the architecture) is an error, or with ``skip_unmet`` (a method's
    reduced zoo) skipped with a warning that names it."""
    p = ctx.preset
    registered = Registered(zoo.fingerprints)
    targets = [t for t in p.model_attacks.targets if t in zoo.generators] or zoo.fingerprinted_ids[:1]
    cards = [g for g, entry in zoo.external.items() if entry.has_generator]
    targets += cards
    reference = real.reference.float() / 255
    grids = attack_grids(ctx, p.model_attacks.attacks if attacks is None else attacks)
    on_ray = p.executor.kind == "ray"
    decoder = portable_decoder(ctx, codec) if on_ray else None
    ids = {id(G): g for g, G in zoo.generators.items() if g in zoo.configs}  # a zoo model -> its generator id

    def weights(model: nn.Module) -> _Weights:
        return _Weights(zoo.configs[ids[id(model)]], cpu_state(model.state_dict()))

    cells: list[_Cell] = []  # executor ray: every cell, measured after the loop
    for target in targets:
        context = _context(target, zoo, real, ctx.device, p.model_attacks.finetune_steps)
        for spec, grid in grids:
            try:  # before any work: e.g. no second generator of the architecture to merge with
                spec.check_context(context)
            except ValueError as exc:
                message = f"model attack on {target}: {exc} (the zoo has no such thing for {target})"
                if not skip_unmet and target not in cards:
                    raise ValueError(message) from None
                warnings.warn(f"{codec.method}: skipped {message}", FpbenchWarning, stacklevel=2)
                continue
            for severity, value in enumerate(grid):
                settings = {f: getattr(context, f) for f in SETTING_FIELDS if f in spec.needs + spec.optional}
                key = ctx.key("model_attack", VERSION, {"attack": (spec.id, spec.version, value), "target": target,
                                                        "n_samples": p.zoo.n_samples, "alpha": p.alpha, "seed": p.seed,
                                                        **settings})

                def rows(bits: torch.Tensor, fid: float, extractor: str, spec=spec, value=value, severity=severity,
                         target=target) -> pd.DataFrame:
                    return _cell_rows(bits, fid, extractor, attack=spec.id, attack_version=spec.version, value=value,
                                      severity=severity, target=target, registered=registered, method=codec.method,
                                      seed=p.seed, alpha=p.alpha)

                what = f"{spec.id} {spec.param}={value:g} on {target}"

                def measure(spec=spec, value=value, context=context, target=target, rows=rows,
                            what=what) -> pd.DataFrame:
                    ctx.log(f"model attack {what}")
                    images, bits, timing = _attacked(spec, _generator(zoo, target), value, context,
                                                     decode=codec.decode, n_samples=p.zoo.n_samples, seed=p.seed)
                    start = time.perf_counter()  # compute_fid in two steps, the distance not timed (as on Ray)
                    feats, reference_feats, extractor = fid_features(images.float() / 255, reference,
                                                                     ctx.fid_extractor, device=ctx.device)
                    record(ctx, THROUGHPUT, spec.id, _plus(timing, start))
                    return rows(bits, fid_from_features(feats, reference_feats), extractor)

                if not on_ray:
                    df = ctx.cache.rows("model_attack", key, measure)
                    ctx.rows += rows_from_frame(df)
                    continue
                taken = context.select(spec.needs + spec.optional)
                portable = decoder is not None and all(
                    id(m) in ids for m in (_generator(zoo, target), *taken.values()) if isinstance(m, nn.Module))

                def task(spec=spec, value=value, target=target, taken=taken) -> _CellTask:
                    shipped = {name: weights(v) if isinstance(v, nn.Module) else v for name, v in taken.items()}
                    return _CellTask(spec.id, spec.version, value, weights(zoo.generators[target]), shipped, decoder,
                                     real.reference, ctx.fid_extractor, p.zoo.n_samples, p.seed)

                cells.append(_Cell(key, spec.id, what, measure, task if portable else None, rows))
    if on_ray:
        ctx.rows += _measure_on_ray(ctx, cells)
