"""Stage 3: the image-attack grid over fingerprinted real images ("data") and every fingerprinted
generator's samples, with clean real images as the negatives."""

from __future__ import annotations

import pandas as pd
import torch

from fpbench.attacks.registry import get_attack
from fpbench.pipeline.image_robustness import evaluate_image_attacks
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.fingerprint import data_fingerprint
from fpbench.pipeline.stages.generators import negative_pool
from fpbench.results import rows_from_frame, to_frame

VERSION = 2  # 2: negatives include the clean controls' samples (as the clean measurement's)  # of this stage's measurement code


def attack_grids(ctx: RunContext, ids: tuple[str, ...]) -> list:
    """(spec, grid) pairs: the registry's default grid unless the preset or CLI overrides it."""
    grids = []
    for attack_id in ids:
        spec = get_attack(attack_id)
        grids.append((spec, spec.check_grid(ctx.preset.evaluation.grids.get(attack_id, spec.grid))))
    unknown = set(ctx.preset.evaluation.grids) - set(ids)
    for attack_id in sorted(unknown):
        get_attack(attack_id)  # a typo in --grid fails with "did you mean"
    return grids


def run_image_attacks(ctx: RunContext, codec, real: RealImages, zoo, stamped_test: torch.Tensor) -> None:
    p = ctx.preset
    n = p.image_attacks.samples
    fingerprints = dict(zoo.fingerprints) if zoo is not None else {"data": data_fingerprint(p)}
    sources = {"data": stamped_test[:n].float() / 255}
    if zoo is not None:
        sources |= {g: zoo.samples[g][:n].float() / 255 for g in zoo.evaluated_ids}
    # the negatives of the clean measurement (real photos and the clean controls' samples), attacked alike
    clean = (negative_pool(real, zoo) if zoo is not None else real.test).float() / 255

    def decode_bits(images: torch.Tensor) -> torch.Tensor:
        return codec.decode(images)

    grids = attack_grids(ctx, p.image_attacks.attacks)
    key = ctx.key("image_attacks", VERSION, {"grids": [(spec.id, spec.version, grid) for spec, grid in grids],
                                             "n": n, "alpha": p.alpha, "seed": p.seed})

    def measure() -> pd.DataFrame:
        return to_frame(evaluate_image_attacks(sources, fingerprints, decode_bits, clean, grids, alpha=p.alpha,
                                               seed=p.seed, method=codec.method, progress=ctx.progress,
                                               include_clean=False))

    ctx.rows += rows_from_frame(ctx.cache.rows("image_attacks", key, measure))
