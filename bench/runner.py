"""The runner: walks the stages of a preset and writes results.csv, manifest.json and the report.

Every stage caches what it computes (keyed by its config hash), so an interrupted run resumes and a
warm rerun takes seconds. results.csv and manifest.json are written atomically at the end of each
stage, so nothing already measured is lost if a later stage fails.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from bench.atomic import write_json_atomic
from bench.cache import ArtifactCache
from bench.manifest import build_manifest
from bench.presets import Preset
from bench.results import to_frame, write_results
from bench.stages.adaptive import run_adaptive
from bench.stages.baselines import run_baselines
from bench.stages.context import RunContext
from bench.stages.data import load_real_images
from bench.stages.fingerprint import evaluate_data, fingerprint_models
from bench.stages.generators import evaluate_zoo, gan_config, train_zoo
from bench.stages.image_attacks import run_image_attacks
from bench.stages.model_attacks import run_model_attacks


@dataclass(frozen=True)
class RunOutcome:
    out: Path
    results: pd.DataFrame
    manifest: dict


def _check_device(device: str) -> str:
    if device not in ("cpu", "cuda") and not device.startswith("cuda:"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
    return device


def _flush(ctx: RunContext, data_source: str, started: float) -> tuple[pd.DataFrame, dict]:
    df = to_frame(ctx.rows)
    write_results(df, ctx.out / "results.csv")
    extra = {"wall_seconds": round(time.perf_counter() - started, 3), "cache_hits": ctx.cache.hits,
             "cache_misses": ctx.cache.misses, "cache_dir": str(ctx.cache.root), **ctx.notes}
    manifest = build_manifest(ctx.preset, device=ctx.device, data_source=data_source,
                              stage_seconds=ctx.stage_seconds, extra=extra)
    write_json_atomic(ctx.out / "manifest.json", manifest)
    return df, manifest


def run(preset: Preset, out: str | Path, *, data_dir: str | Path | None = None, device: str = "cpu",
        cache: ArtifactCache | None = None, progress: bool = True) -> RunOutcome:
    """Run every stage of ``preset`` into ``out``. Warnings raised by the stages (small samples, a
    fidelity loss that never switched on, skipped files) are printed and kept in the manifest."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = _run(preset, out, data_dir=data_dir, device=device, cache=cache, progress=progress)
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    if messages:
        for message in messages:
            print(f"[fpbench] warning: {message}", file=sys.stderr)
        outcome.manifest["warnings"] = messages
        write_json_atomic(outcome.out / "manifest.json", outcome.manifest)
    return outcome


def _run(preset: Preset, out: str | Path, *, data_dir: str | Path | None, device: str,
         cache: ArtifactCache | None, progress: bool) -> RunOutcome:
    started = time.perf_counter()
    for plan in preset.generators:  # a bad plan fails now, not after the fingerprint stage
        gan_config(plan, preset.resolution)
    ctx = RunContext(preset=preset, cache=cache or ArtifactCache(), out=Path(out), device=_check_device(device),
                     data_dir=Path(data_dir) if data_dir else None, progress=progress)
    ctx.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(preset.seed)
    with ctx.stage("data"):
        real = load_real_images(ctx)
    with ctx.stage("fingerprint"):
        models, model_key = fingerprint_models(ctx, real)
    with ctx.stage("evaluate_data"):
        evaluated = evaluate_data(ctx, models, real)
    df, manifest = _flush(ctx, real.source, started)
    zoo = None
    if preset.generators:
        with ctx.stage("generators"):
            zoo = train_zoo(ctx, models, real, model_key)
        with ctx.stage("evaluate_generators"):
            evaluate_zoo(ctx, models, real, zoo, evaluated["stamped_test"])
        df, manifest = _flush(ctx, real.source, started)
    if preset.image_attacks:
        with ctx.stage("image_attacks"):
            run_image_attacks(ctx, models, real, zoo, evaluated["stamped_test"])
        df, manifest = _flush(ctx, real.source, started)
    if preset.model_attacks and zoo is not None:
        with ctx.stage("model_attacks"):
            run_model_attacks(ctx, models, real, zoo)
        df, manifest = _flush(ctx, real.source, started)
    if preset.baselines and zoo is not None:
        with ctx.stage("baselines"):
            run_baselines(ctx, models, real, zoo)
        df, manifest = _flush(ctx, real.source, started)
    if preset.adaptive_attacks:
        with ctx.stage("adaptive"):
            run_adaptive(ctx, models, real, zoo)
        df, manifest = _flush(ctx, real.source, started)
    with ctx.stage("report"):
        _render(ctx)
    df, manifest = _flush(ctx, real.source, started)
    return RunOutcome(ctx.out, df, manifest)


def _render(ctx: RunContext) -> None:
    try:
        from reports import render_run
    except ImportError:
        return
    render_run(ctx.out)


def summary_table(df: pd.DataFrame, max_rows: int = 30) -> str:
    """A short plain-text summary of the clean measurements for the end of a run."""
    clean = df[df["attack"] == "none"]
    lines = [f"{'method':<24} {'model':<14} {'metric':<22} {'value':>12}"]
    for r in clean.head(max_rows).itertuples():
        arrow = "↑" if r.higher_is_better else "↓"
        value = f"{r.value:.4g}" + (f" ± {r.stderr:.2g}" if not math.isnan(r.stderr) else "")
        lines.append(f"{r.method:<24} {r.model:<14} {r.metric + ' ' + arrow:<22} {value:>12}")
    return "\n".join(lines)
