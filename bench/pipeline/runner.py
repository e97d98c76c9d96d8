"""The runner: walks the stages of a run config and writes results.csv, manifest.json and the report.

Every stage caches what it computes (keyed by everything it consumes), so an interrupted run resumes and a
warm rerun takes seconds. A run works in ``OUT/partial/``: results.csv and manifest.json are written there
atomically after every stage (its manifest says ``running``, then ``failed`` with the error and the
warnings so far), and only a complete run's files (results, manifest, report, tables, plots) are moved
into ``OUT``. A failed or killed rerun therefore leaves the previous complete run in ``OUT`` as it was.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from fpbench.atomic import make_dirs, write_json_atomic
from fpbench.attacks.registry import ATTACKS, load_all
from fpbench.cache import ArtifactCache
from fpbench.evaluation.summary import robustness_auc_rows
from fpbench.pipeline.config import ConfigError, RunConfig, attacks_of
from fpbench.pipeline.executors import connect_ray
from fpbench.pipeline.manifest import build_manifest
from fpbench.pipeline.stages.adaptive import run_adaptive
from fpbench.pipeline.stages.baselines import run_baselines
from fpbench.pipeline.stages.codec import Codec, method_codec, paper_codec
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages, load_real_images
from fpbench.pipeline.stages.external import codec_groups, evaluate_cards, join_cards, load_cards
from fpbench.pipeline.stages.fingerprint import evaluate_data, fingerprint_models
from fpbench.pipeline.stages.generators import evaluate_zoo, gan_config, train_zoo
from fpbench.pipeline.stages.image_attacks import attack_grids, run_image_attacks
from fpbench.pipeline.stages.model_attacks import run_model_attacks
from fpbench.pipeline.validate import check_config, data_problems, data_shortfalls
from fpbench.reports import render_run
from fpbench.results import AGGREGATE_SEED, to_frame, write_results
from fpbench.seeds import aggregate_over_seeds
from fpbench.spectra import SPECTRA_FILE
from fpbench.warnings import FpbenchWarning


@dataclass(frozen=True)
class RunOutcome:
    out: Path
    results: pd.DataFrame
    manifest: dict


def check_device(device: str) -> str:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
    return device


def attack_descriptions(attack_ids) -> dict[str, dict]:
    """What a report needs to label the attacks of a run without the attack code: the parameter's name
    and unit, the neutral value, kind, category, version and threat card (the adversary it models, or
    None) of each registered attack id."""
    load_all()
    return {a: {"param": spec.param, "unit": spec.unit, "neutral": spec.neutral, "kind": spec.kind.value,
                "category": spec.category, "version": spec.version,
                "threat": dataclasses.asdict(spec.threat) if spec.threat is not None else None}
            for a in sorted(set(attack_ids)) if a in ATTACKS and (spec := ATTACKS.get(a))}


PARTIAL = "partial"  # OUT/partial/: the run in progress, or the last one that failed
#: what a run writes into OUT; a complete run replaces them all, so nothing of an older run stays beside it
RUN_OUTPUTS = ("results.csv", "manifest.json", "report.md", "report.html", "tables", "plots", SPECTRA_FILE)


def flush(ctx: RunContext, preset: RunConfig, data_source: str, started: float,
           status: str = "running") -> tuple[pd.DataFrame, dict]:
    df = to_frame(ctx.rows)
    write_results(df, ctx.out / "results.csv")
    extra = {"status": status, "wall_seconds": round(time.perf_counter() - started, 3), "cache_hits": ctx.cache.hits,
             "cache_misses": ctx.cache.misses, "cache_dir": str(ctx.cache.root), "fid_extractor": ctx.fid_extractor,
             "lineage": ctx.lineage, "attacks": attack_descriptions(df["attack"]) if len(df) else {}, **ctx.notes}
    manifest = build_manifest(preset, device=ctx.device, data_source=data_source,
                              stage_seconds=ctx.stage_seconds, extra=extra)
    write_json_atomic(ctx.out / "manifest.json", manifest)
    return df, manifest


def run(preset: RunConfig, out: str | Path, *, data_dir: str | Path | None = None, device: str = "cpu",
        cache: ArtifactCache | None = None, progress: bool = True, allow_download: bool = False) -> RunOutcome:
    """Run every stage of ``preset`` into ``out``, once per seed of ``preset.seeds`` (the data is shared;
    everything that depends on the seed is repeated, see ``RunConfig.with_seed``), then add the summary rows
    (``robustness_auc``) and, with several seeds, aggregate rows (``seed`` = -1). Warnings raised by the
    stages (small samples, a fidelity loss that never switched on, skipped files) are printed and kept in
    the manifest. The caller's torch RNG state is left as it was.

    The FID extractor (``preset.evaluation.fid_extractor``) is resolved before any stage: ``"inception"``
    without its weights fails at once, unless ``allow_download`` lets clean-fid fetch them (a permission of
    this call, not part of the run config)."""
    out = Path(out)
    with warnings.catch_warnings(record=True) as caught, torch.random.fork_rng(devices=[]):
        warnings.simplefilter("always")
        try:
            outcome = _run(preset, out, data_dir=data_dir, device=device, cache=cache, progress=progress,
                           allow_download=allow_download)
        except BaseException as exc:
            record_failure(out / PARTIAL, exc, warning_messages(caught))
            raise
    messages = warning_messages(caught)
    for message in messages:
        print(f"[fpbench] warning: {message}", file=sys.stderr)
    outcome.manifest["warnings"] = messages
    write_json_atomic(outcome.out / "manifest.json", outcome.manifest)
    return outcome


def warning_messages(caught: list[warnings.WarningMessage]) -> list[str]:
    return sorted({f"{w.category.__name__}: {w.message}" for w in caught})


def record_failure(staging: Path, exc: BaseException, messages: list[str]) -> None:
    """Mark the partial run failed, with the error and the warnings so far (a run that failed before it
    had a folder leaves nothing)."""
    path = staging / "manifest.json"
    if not path.is_file():
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest |= {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "warnings": messages}
    write_json_atomic(path, manifest)


def promote(staging: Path, out: Path) -> None:
    """Move a complete run from ``staging`` into ``out``: every file and folder it wrote replaces the one of
    the same name (each file by an atomic rename), the manifest last, then ``staging`` goes."""
    for name in RUN_OUTPUTS:  # an older run's output this run did not write (its spectra, a table)
        stale = out / name
        if not (staging / name).exists() and stale.exists():
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    items = sorted(staging.iterdir(), key=lambda p: p.name == "manifest.json")
    for item in items:
        target = out / item.name
        if item.is_dir():
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
        else:
            os.replace(item, target)
    staging.rmdir()


def _run(preset: RunConfig, out: str | Path, *, data_dir: str | Path | None, device: str,
         cache: ArtifactCache | None, progress: bool, allow_download: bool = False) -> RunOutcome:
    started = time.perf_counter()
    device = check_device(device)  # before anything is read, computed or written
    check_config(preset)
    repeats = [preset.with_seed(seed) for seed in preset.seeds]
    for repeat in repeats:  # a bad plan fails now, not after the fingerprint stage
        for plan in repeat.zoo.generators:
            gan_config(plan, repeat.resolution)
    # every model card read and checked (its images, its decoder) before any stage
    cards = load_cards(preset.models, n_bits=preset.n_bits, resolution=preset.resolution, methods=preset.methods,
                       taken=[plan.id for plan in preset.zoo.generators])
    own_decoders = codec_groups([e for e in cards if e.card.decoder is not None], device)
    if preset.executor.kind == "ray":
        connect_ray(preset.executor)
    staging = Path(out) / PARTIAL
    # resolves the FID extractor (and downloads its weights if allowed) before any stage
    ctx = RunContext.start(repeats[0], cache or ArtifactCache(), staging, device=device,
                           data_dir=Path(data_dir) if data_dir else None, progress=progress,
                           allow_download=allow_download)
    ctx.artifacts["cards"] = [e for e in cards if e.card.decoder is None]
    ctx.artifacts["own_decoders"] = own_decoders
    if staging.exists():
        shutil.rmtree(staging)  # the leftovers of a failed run: this run replaces them
    make_dirs(staging)
    flush(ctx, preset, str(data_dir or "built-in"), started)  # a run that fails from here on says so
    torch.manual_seed(preset.data.seed)
    with ctx.stage("data"):
        real = load_real_images(ctx)
    flush(ctx, preset, real.source, started)
    problems = data_problems(preset, len(real.train), len(real.test), len(real.holdout),
                             folder=ctx.data_dir is not None)
    if problems:  # before the fingerprint stage
        raise ConfigError(f"the data ({real.source}) cannot feed run config {preset.name!r}:\n- " + "\n- ".join(problems))
    for message in data_shortfalls(preset, len(real.test)):
        warnings.warn(message, FpbenchWarning, stacklevel=2)
    shared = dict(ctx.lineage)
    for i, repeat in enumerate(repeats):
        if len(repeats) > 1:
            ctx.log(f"seed {repeat.seed} ({i + 1} of {len(repeats)})")
        ctx.preset, ctx.lineage = repeat, dict(shared)
        torch.manual_seed(repeat.seed)  # inside run()'s fork_rng: code that draws from the global RNG repeats
        _run_seed(ctx, real, preset, started)
    ctx.rows += robustness_auc_rows(to_frame(ctx.rows))
    if len(repeats) > 1:
        ctx.rows += aggregate_over_seeds(to_frame(ctx.rows))
    with ctx.stage("report"):
        flush(ctx, preset, real.source, started, status="complete")
        render_run(staging)
    df, manifest = flush(ctx, preset, real.source, started, status="complete")
    promote(staging, Path(out))
    return RunOutcome(Path(out), df, manifest)


def _run_seed(ctx: RunContext, real: RealImages, preset: RunConfig, started: float) -> None:
    """Every stage after the data for one seed (``ctx.preset`` is that seed's preset): the paper's method
    through every stage, then each other method of ``methods`` through its own stages (its stamped photos,
    its zoo, image, model and adaptive attacks; the baselines are method-free)."""
    p = ctx.preset
    shared = dict(ctx.lineage)
    with ctx.stage("fingerprint"):
        models, model_key = fingerprint_models(ctx, real)
    codec = paper_codec(ctx, models, model_key)
    zoo = _method_stages(ctx, codec, real, preset, started, None)
    if p.baselines.methods and zoo is not None and zoo.generators:
        with ctx.stage("baselines"):
            run_baselines(ctx, models, real, zoo)
        flush(ctx, preset, real.source, started)
    if p.adaptive.attacks:
        with ctx.stage("adaptive"):
            run_adaptive(ctx, codec, real, zoo)
        flush(ctx, preset, real.source, started)
    if ctx.artifacts["own_decoders"]:
        with ctx.stage("model cards (own decoders)"):
            grids = attack_grids(ctx, p.image_attacks.attacks)
            for own, entries in ctx.artifacts["own_decoders"]:
                ctx.log(f"model cards with their own decoder: {', '.join(e.id for e in entries)}")
                ctx.rows += evaluate_cards(ctx, own, entries, real.test, real.reference, grids,
                                           n_samples=p.zoo.n_samples, attack_samples=p.image_attacks.samples)
        flush(ctx, preset, real.source, started)
    for method_id in p.methods[1:]:
        ctx.lineage = dict(shared)
        with ctx.stage(f"method {method_id}"):
            other, default = method_codec(ctx, real, method_id, primary=codec)
        if default is not None:  # its own default strength: the stamped photos and the image attacks on them
            matched_lineage, ctx.lineage["fingerprint"] = ctx.lineage["fingerprint"], default.key
            with ctx.stage(f"{default.method} evaluate_data"):
                evaluated = evaluate_data(ctx, default, real)
            if p.image_attacks.attacks:
                with ctx.stage(f"{default.method} image_attacks"):
                    run_image_attacks(ctx, default, real, None, evaluated["stamped_test"])
            ctx.lineage["fingerprint"] = matched_lineage
            flush(ctx, preset, real.source, started)
        zoo = _method_stages(ctx, other, real, preset, started, p.method_plans(), prefix=f"{method_id} ")
        attacks = attacks_of(p.adaptive, primary=False)
        if attacks:
            with ctx.stage(f"{method_id} adaptive"):
                run_adaptive(ctx, other, real, zoo, attacks)
            flush(ctx, preset, real.source, started)


def _method_stages(ctx: RunContext, codec: Codec, real: RealImages, preset: RunConfig, started: float,
                   plans: tuple | None, prefix: str = ""):
    """The stages every method goes through: its stamped photos, its zoo (``plans``; None = the run's),
    transfer, image and model attacks. Returns the zoo (None without generators)."""
    p = ctx.preset
    with ctx.stage(prefix + "evaluate_data"):
        evaluated = evaluate_data(ctx, codec, real)
    flush(ctx, preset, real.source, started)
    zoo = None
    if p.zoo.generators:
        with ctx.stage(prefix + "generators"):
            zoo = train_zoo(ctx, codec, real, plans)
    cards = [e for e in ctx.artifacts.get("cards", ()) if e.card.method == codec.method]
    if cards:
        with ctx.stage(prefix + "model_cards"):
            zoo = join_cards(ctx, zoo, cards)
    if zoo is not None:
        with ctx.stage(prefix + "evaluate_generators"):
            evaluate_zoo(ctx, codec, real, zoo, evaluated["stamped_test"])
        flush(ctx, preset, real.source, started)
    if p.image_attacks.attacks:
        with ctx.stage(prefix + "image_attacks"):
            run_image_attacks(ctx, codec, real, zoo, evaluated["stamped_test"])
        flush(ctx, preset, real.source, started)
    attacks = attacks_of(p.model_attacks, primary=plans is None)
    if attacks and zoo is not None:
        with ctx.stage(prefix + "model_attacks"):
            run_model_attacks(ctx, codec, real, zoo, skip_unmet=plans is not None, attacks=attacks)
        flush(ctx, preset, real.source, started)
    return zoo


HEADLINE_METRICS = ("bit_accuracy", "psnr")  # what the summary shows of each method when a run has several


def summary_table(df: pd.DataFrame, max_rows: int = 30) -> str:
    """A short plain-text summary of the clean measurements for the end of a run: the aggregate over
    seeds where a run has one, each value with the half-width of its 95% interval (or its stderr). A run
    of several fingerprinting methods shows each method's bit accuracy and PSNR rows, so every method is
    in it; a run of one shows its first ``max_rows`` clean rows."""
    clean = df[df["attack"] == "none"]
    if (clean["seed"] == AGGREGATE_SEED).any():
        clean = clean[clean["seed"] == AGGREGATE_SEED]
    headline = clean[clean["metric"].isin(HEADLINE_METRICS)]
    if headline["method"].nunique() > 1:
        clean, max_rows = headline, max(max_rows, len(headline))
    w = max([24, *(len(str(m)) for m in clean.head(max_rows)["method"])])
    lines = [f"{'method':<{w}} {'model':<14} {'metric':<22} {'value':>16}"]
    for r in clean.head(max_rows).itertuples():
        arrow = "↑" if r.higher_is_better else "↓"
        half = (r.ci_high - r.ci_low) / 2
        spread = half if math.isfinite(half) else r.stderr
        value = f"{r.value:.4g}" + (f" ± {spread:.2g}" if math.isfinite(spread) else "")
        lines.append(f"{r.method:<{w}} {r.model:<14} {r.metric + ' ' + arrow:<22} {value:>16}")
    return "\n".join(lines)
