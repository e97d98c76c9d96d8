"""Stage 3: the image-attack grid over fingerprinted real images ("data") and every fingerprinted
generator's samples, with clean real images as the negatives.

When the grid is measured (not read from the cache), ``ctx.notes["image_attack_throughput"]`` gets, per
attack, ``images_per_second``: the images (sources and negatives, at every grid value) attacked, decoded and
measured per second. The grid is measured attack by attack, so an attack's time runs from its first attacked
image to the next attack's (a neutral value before it is timed with the attack before)."""

from __future__ import annotations

import dataclasses
import time

import pandas as pd
import torch

from fpbench.attacks.registry import AttackSpec, get_attack
from fpbench.pipeline.image_robustness import evaluate_image_attacks
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.fingerprint import data_fingerprint
from fpbench.pipeline.stages.generators import negative_pool
from fpbench.pipeline.stages.throughput import Timing, record
from fpbench.results import rows_from_frame, to_frame

VERSION = 2  # 2: negatives include the clean controls' samples (as the clean measurement's)  # of this stage's measurement code
THROUGHPUT = "image_attack_throughput"  # the ctx.notes (and manifest) key of this stage's throughput


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


class _Clock:
    """The wall time of each attack of a grid measured attack by attack: each attack's first call starts its
    time and ends the previous attack's; :meth:`stop` ends the last one."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._current: str | None = None
        self._since = 0.0

    def timed(self, spec: AttackSpec) -> AttackSpec:
        """``spec`` whose calls tell the clock which attack runs; the same attack otherwise."""
        def fn(*args, **kwargs):
            if self._current != spec.id:
                self.stop()
                self._current = spec.id
            return spec.fn(*args, **kwargs)

        return dataclasses.replace(spec, fn=fn)

    def stop(self) -> None:
        now = time.perf_counter()
        if self._current is not None:
            self.seconds[self._current] = self.seconds.get(self._current, 0.0) + now - self._since
        self._current, self._since = None, now


def _note_rates(ctx: RunContext, clock: _Clock, grids: list, images_per_value: int) -> None:
    """Each timed attack's images (``images_per_value`` at every value of its grid) over its seconds."""
    for spec, grid in grids:
        if spec.id in clock.seconds:
            record(ctx, THROUGHPUT, spec.id, Timing(len(grid) * images_per_value, clock.seconds[spec.id]))


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
        clock = _Clock()
        timed = [(clock.timed(spec), grid) for spec, grid in grids]
        rows = evaluate_image_attacks(sources, fingerprints, decode_bits, clean, timed, alpha=p.alpha, seed=p.seed,
                                      method=codec.method, progress=ctx.progress, include_clean=False)
        clock.stop()
        _note_rates(ctx, clock, grids, len(clean) + sum(map(len, sources.values())))
        return to_frame(rows)

    ctx.rows += rows_from_frame(ctx.cache.rows("image_attacks", key, measure))
