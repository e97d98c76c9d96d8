"""``fpbench evaluate``: measure models people bring (model cards), training nothing.

Each card's images are decoded by its own ``decoder:`` checkpoint, or, for a method that needs no fitting
(``lsb``, ``dct_qim``), by the method at its defaults; the cards sharing a decoder are registered among
themselves. Negatives (unfingerprinted images: the FPR thresholds and the FID reference) are a folder of the
user's (``negatives``) or, by default, the built-in photographs cropped at the cards' resolution. Rows:
bit accuracy, p-values, pass rate, detection, attribution, FID, and the image-attack grid; the output folder
gets the same results.csv, manifest, tables, plots and report as a run.
"""

from __future__ import annotations

import shutil
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch

from fpbench.atomic import make_dirs, write_json_atomic
from fpbench.cache import ArtifactCache, config_hash
from fpbench.data.builtin import BuiltinData, crops
from fpbench.data.folder import load_folder
from fpbench.evaluation.summary import robustness_auc_rows
from fpbench.pipeline.config import ConfigError, RunConfig
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import (
    PARTIAL,
    RunOutcome,
    check_device,
    flush,
    promote,
    record_failure,
    warning_messages,
)
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.external import codec_groups, evaluate_cards, load_cards
from fpbench.pipeline.stages.image_attacks import attack_grids
from fpbench.reports import render_run
from fpbench.results import to_frame
from fpbench.zoo import ModelCardError, load_card

DEFAULT_NEGATIVES = 1000  # built-in photo crops when no --negatives folder is given


def evaluation_config(cards: Sequence[str | Path], *, n_bits: int, resolution: int,
                      attacks: Sequence[str] | None = None, n_samples: int = 1000, attack_samples: int = 500,
                      seed: int = 0, fid_extractor: str = "auto", alpha: float | None = None) -> RunConfig:
    """The run config an evaluation records: the ``quick`` preset's image attacks (or ``attacks``) at the
    cards' fingerprint length and resolution, and nothing to train."""
    base = get_preset("quick")
    return base.updated({
        "name": "evaluate", "seed": seed, "seeds": [seed], "models": [str(c) for c in cards],
        "fingerprint": {"n_bits": n_bits, "resolution": resolution},
        "data": {"resolution": resolution, "n_train": 0, "n_test": 0, "n_holdout": 0},
        "zoo": {"generators": [], "n_samples": n_samples, "per_method": []},
        "image_attacks": {"attacks": list(base.image_attacks.attacks if attacks is None else attacks),
                          "samples": attack_samples},
        "model_attacks": {"attacks": [], "targets": []}, "baselines": {"methods": [], "attack_methods": [],
                                                                       "attacks": [], "unseen": []},
        "adaptive": {"attacks": []},
        "evaluation": {"fid_extractor": fid_extractor, "alpha": base.alpha if alpha is None else alpha},
    })


def _negatives(ctx: RunContext, folder: Path | None, resolution: int, seed: int) -> tuple[torch.Tensor, str]:
    """The user's folder, or the built-in test crops (cached under the key a run's data stage uses)."""
    if folder is None:
        config = BuiltinData("test", DEFAULT_NEGATIVES, resolution, seed=seed)
        images = ctx.cache.tensors("data", config_hash(config), lambda: {"images": crops(config)})["images"]
        return images, "built-in photos"
    return load_folder(folder, resolution, on_error="skip"), f"folder:{folder}"


def evaluate(cards: Sequence[str | Path], out: str | Path, *, attacks: Sequence[str] | None = None,
             negatives: str | Path | None = None, n_samples: int = 1000, attack_samples: int = 500, seed: int = 0,
             alpha: float | None = None, fid_extractor: str = "auto", allow_download: bool = False,
             cache: ArtifactCache | None = None, device: str = "cpu", progress: bool = True) -> RunOutcome:
    """Evaluate the models of ``cards`` into ``out`` (results.csv, manifest.json, report, tables, plots).
    ``alpha``: the significance level of the fingerprint test (default: the quick preset's). Every card,
    decoder and attack id is checked before anything is measured."""
    if not cards:
        raise ConfigError("fpbench evaluate needs at least one model card (--card CARD.yaml)")
    out = Path(out)
    with warnings.catch_warnings(record=True) as caught, torch.random.fork_rng(devices=[]):
        warnings.simplefilter("always")
        try:
            outcome = _evaluate(cards, out, attacks=attacks, negatives=negatives, n_samples=n_samples,
                                attack_samples=attack_samples, seed=seed, alpha=alpha, fid_extractor=fid_extractor,
                                allow_download=allow_download, cache=cache, device=device, progress=progress)
        except BaseException as exc:
            record_failure(out / PARTIAL, exc, warning_messages(caught))
            raise
    outcome.manifest["warnings"] = warning_messages(caught)
    write_json_atomic(outcome.out / "manifest.json", outcome.manifest)
    return outcome


def _evaluate(cards: Sequence[str | Path], out: Path, *, attacks: Sequence[str] | None, negatives: str | Path | None,
              n_samples: int, attack_samples: int, seed: int, alpha: float | None, fid_extractor: str,
              allow_download: bool,
              cache: ArtifactCache | None, device: str, progress: bool) -> RunOutcome:
    started = time.perf_counter()
    shapes = {(c.n_bits, c.resolution) for c in map(load_card, cards)}
    if len(shapes) != 1:
        raise ModelCardError("fpbench evaluate takes cards of one fingerprint length and resolution, got "
                             f"{sorted(shapes)}: evaluate each group on its own")
    (n_bits, resolution), = shapes
    entries = load_cards(cards, n_bits=n_bits, resolution=resolution, methods=None)
    groups = codec_groups(entries, device)
    preset = evaluation_config(cards, n_bits=n_bits, resolution=resolution, attacks=attacks, n_samples=n_samples,
                               attack_samples=attack_samples, seed=seed, fid_extractor=fid_extractor, alpha=alpha)
    if 0.5 ** n_bits >= preset.alpha:
        raise ConfigError(f"with {n_bits}-bit fingerprints the smallest p-value is {0.5 ** n_bits:.3g}, not below "
                          f"alpha {preset.alpha:g}: no image could ever be detected; pass a larger --alpha (e.g. "
                          f"{min(0.01, 0.5 ** n_bits * 100):.0e}) or use longer fingerprints")
    if negatives is not None and not Path(negatives).is_dir():
        raise ConfigError(f"--negatives {negatives} is not a folder: give a folder of unfingerprinted images")
    staging = out / PARTIAL
    ctx = RunContext.start(preset, cache or ArtifactCache(), staging, device=check_device(device),
                           progress=progress, allow_download=allow_download)
    grids = attack_grids(ctx, preset.image_attacks.attacks)  # an unknown attack fails here, with "did you mean"
    if staging.exists():
        shutil.rmtree(staging)  # the leftovers of a failed evaluation: this one replaces them
    make_dirs(staging)
    with ctx.stage("negatives"):
        real, source = _negatives(ctx, Path(negatives) if negatives is not None else None, resolution, seed)
    if len(real) < 2:
        raise ConfigError(f"the negatives ({source}) hold {len(real)} usable images at {resolution}x{resolution}; "
                          "FPR thresholds and FID need at least 2 (a few hundred for numbers worth reading)")
    with ctx.stage("evaluate_cards"):
        for codec, members in groups:
            ctx.log(f"evaluating {', '.join(e.id for e in members)} with {codec.method}")
            ctx.rows += evaluate_cards(ctx, codec, members, real, real, grids, n_samples=n_samples,
                                       attack_samples=attack_samples)
    ctx.rows += robustness_auc_rows(to_frame(ctx.rows))
    with ctx.stage("report"):
        flush(ctx, preset, source, started, status="complete")
        render_run(staging)
    df, manifest = flush(ctx, preset, source, started, status="complete")
    promote(staging, out)
    return RunOutcome(out, df, manifest)

