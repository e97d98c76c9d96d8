"""Where training time goes: a preset's fingerprint training and first generator, phase by phase (issue 20).

    python scripts/profile_training.py --preset quick --steps 100 --threads 1 --out runs/profile

Runs STEPS steps of the preset's fingerprint training (its config with ``steps`` replaced and the
post-loop work off: no immunising, calibration or hardening) and of its zoo's first generator (the config
``fpbench.pipeline.stages.generators.gan_config`` builds, ``steps`` replaced), each on ``--images`` random
uint8 images of the preset's resolution, under ``torch.profiler`` (fpbench.profiling). Checkpoints go to a
scratch folder as in a real run, every ``checkpoint_every`` steps of the preset's config (the GAN also
writes one at the end). Prints, and writes to OUT/profile.csv and OUT/profile.md, per loop and phase: total
ms, ms per step and share of the wall time; ``other`` is the wall time outside every phase (setup, the
GAN's BatchNorm recalibration, the loop itself). Steps per second of each loop (STEPS / wall) under the
profiler and, unless ``--no-plain``, of the same run without it (row ``wall_unprofiled``, whose share is of
the profiled wall time: the profiler's own cost).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import tempfile
import time
import warnings
from pathlib import Path

import torch

from fpbench.fingerprint.training import TrainingWarning, train_fingerprint
from fpbench.generators import train_gan
from fpbench.pipeline.presets import PRESETS
from fpbench.pipeline.stages.generators import gan_config
from fpbench.profiling import LOOPS, phase_rows, profile_phases

COLUMNS = ("loop", "phase", "calls", "ms", "ms_per_step", "share", "steps_per_s")


def loops(preset: str, steps: int, n_images: int, scratch: Path) -> dict:
    """loop name -> a function training it once (a fresh checkpoint file each call)."""
    cfg = PRESETS.get(preset)
    fp = dataclasses.replace(cfg.fingerprint, steps=steps, immunise_steps=0, target_psnr=None, hardening_steps=0)
    if not cfg.zoo.generators:
        raise SystemExit(f"preset {preset!r} has no generator to profile")
    plan = cfg.zoo.generators[0]
    gan = dataclasses.replace(gan_config(plan, cfg.data.resolution), steps=steps)
    gen = torch.Generator().manual_seed(0)
    fp_images = torch.randint(0, 256, (n_images, 3, fp.resolution, fp.resolution), dtype=torch.uint8, generator=gen)
    gan_images = torch.randint(0, 256, (n_images, 3, gan.resolution, gan.resolution), dtype=torch.uint8,
                               generator=gen)
    calls = iter(range(1_000_000))

    def fingerprint():
        with warnings.catch_warnings():  # random images in few steps: the L2 schedule may never switch on
            warnings.simplefilter("ignore", TrainingWarning)
            return train_fingerprint(fp_images, fp, progress=False, resume_path=scratch / f"fp-{next(calls)}.pt")

    def generator():
        return train_gan(gan_images, gan, progress=False, checkpoint_path=scratch / f"gan-{next(calls)}.safetensors")

    print(f"preset {preset}: fingerprint {fp.resolution}px batch {fp.batch_size} checkpoint_every "
          f"{fp.checkpoint_every}; generator {plan.id} ({gan.arch}, D {gan.discriminator or gan.arch}, width "
          f"{gan.width}, batch {gan.batch_size}, checkpoint_every {gan.checkpoint_every}); {steps} steps each "
          f"on {n_images} random images, {torch.get_num_threads()} thread(s)")
    return {"fingerprint": fingerprint, "gan": generator}


def markdown(rows: list[dict], rates: dict[str, str]) -> str:
    lines = ["| loop | phase | calls | ms total | ms/step | share of wall | steps/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['loop']} | {r['phase']} | {r['calls']} | {r['ms']:.1f} | {r['ms_per_step']:.3f} | "
              f"{100 * r['share']:.1f}% | {format(r['steps_per_s'], '.2f') if 'steps_per_s' in r else ''} |"
              for r in rows]
    return "\n".join([*lines, "", *(f"- {loop}: {text}" for loop, text in rates.items())]) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="quick", help="a preset id (fpbench.pipeline.presets.PRESETS)")
    ap.add_argument("--steps", type=int, default=100, help="training steps of each loop")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--images", type=int, default=512, help="random training images per loop")
    ap.add_argument("--out", type=Path, default=Path("runs/profile"), help="folder for profile.csv and profile.md")
    ap.add_argument("--no-plain", action="store_true", help="skip the unprofiled runs (steps/s without profiler)")
    args = ap.parse_args(argv)
    if args.steps <= 0:
        ap.error("--steps must be > 0")
    if args.threads:
        torch.set_num_threads(args.threads)

    rows, rates = [], {}
    with tempfile.TemporaryDirectory(prefix="fpbench-profile-") as scratch:
        for loop, train in loops(args.preset, args.steps, args.images, Path(scratch)).items():
            profiled = profile_phases(train, prefix=LOOPS[loop][0])
            rows += phase_rows(loop, profiled, args.steps)
            rows[-1]["steps_per_s"] = args.steps / profiled["wall_s"]
            rates[loop] = f"{rows[-1]['steps_per_s']:.2f} steps/s under the profiler"
            if not args.no_plain:
                t0 = time.perf_counter()
                train()
                plain = time.perf_counter() - t0
                rows.append({"loop": loop, "phase": "wall_unprofiled", "calls": 1, "ms": plain * 1000,
                             "ms_per_step": plain * 1000 / args.steps, "share": plain / profiled["wall_s"],
                             "steps_per_s": args.steps / plain})
                rates[loop] += f", {rows[-1]['steps_per_s']:.2f} steps/s without it (wall_unprofiled)"
    text = markdown(rows, rates)
    print(text, end="")
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "profile.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({**r, "ms": round(r["ms"], 3), "ms_per_step": round(r["ms_per_step"], 4),
                          "share": round(r["share"], 5), "steps_per_s": round(r.get("steps_per_s", 0), 3) or ""}
                         for r in rows)
    (args.out / "profile.md").write_text(text)
    print(f"wrote {args.out / 'profile.csv'} and {args.out / 'profile.md'}")


if __name__ == "__main__":
    main()
