"""Measure the run-to-run spread of a preset's numbers, for the regression gate's tolerances.

    python scripts/measure_spread.py --preset smoke --seeds 0 1 2 3 4 --threads 1 2 --out runs/spread

Runs the preset cold once per (seed, thread count), each into OUT/seed-S-threads-T: seeds move every
seed-dependent config (``RunConfig.with_seed``), thread counts move float summation order, which on another
machine of the same kind moves the numbers the same way. Writes

- OUT/spread_rows.csv: per row identity (``fpbench.results.IDENTITY``, so each operating point ``fpr`` is
  its own row): the number of runs, the standard deviation over them, the largest distance of any run
  from the reference run (the first seed with the first thread count, or ``--reference``) and the largest shortfall: how much
  worse than the reference any run was, in the metric's own direction (``fpbench.reports.compare.improvement``;
  the regression check fails only that way, so a run that did better says nothing about its tolerance);
- OUT/spread.csv (metric,spread): per metric, the 90th percentile over rows of the standard deviation;
- OUT/runs.csv: every run's rows side by side (a column per run), to look at or re-analyse without rerunning.

With ``--central`` the reference run is the most typical one (:func:`central_run`, named in OUT/reference.txt).

Then ``fpbench update-reference OUT/seed-S-threads-T --name PRESET --out reports/reference --spread OUT/spread.csv --row-spread
OUT/spread_rows.csv`` turns them into the committed reference and tolerances.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch

from fpbench.cache import ArtifactCache
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run
from fpbench.reports.compare import improvement
from fpbench.results import IDENTITY


def spread_tables(frames: dict[str, pd.DataFrame], reference: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-row, per-metric) spread of runs ``frames`` (name -> results), deviations from ``reference``."""
    df = pd.concat([f.assign(run=name) for name, f in frames.items()])
    key = list(IDENTITY)
    ref = frames[reference].set_index(key)["value"]
    per_row = df.groupby(key, dropna=False)["value"].agg(runs="count", std="std").reset_index()
    per_row["std"] = per_row["std"].fillna(0.0)
    dev = df.join(ref.rename("reference"), on=key)
    dev["distance"] = (dev["value"] - dev["reference"]).abs()
    same = dev["value"] == dev["reference"]  # inf == inf: no distance
    dev["shortfall"] = (-improvement(dev["metric"], dev["reference"], dev["value"], dev["higher_is_better"])).clip(0)
    dev.loc[same, ["distance", "shortfall"]] = 0.0
    worst = dev.groupby(key, dropna=False)[["distance", "shortfall"]].max()
    worst = worst.rename(columns={"distance": "max_distance", "shortfall": "max_shortfall"}).reset_index()
    per_row = per_row.merge(worst, on=key, how="left")
    per_metric = per_row.groupby("metric")["std"].quantile(0.9).fillna(0.0).rename("spread").reset_index()
    return per_row, per_metric


def side_by_side(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per row identity, one value column per run (name)."""
    key = list(IDENTITY)
    wide = [f.set_index(key)["value"].rename(name) for name, f in frames.items()]
    return pd.concat(wide, axis=1).reset_index()


def central_run(frames: dict[str, pd.DataFrame]) -> str:
    """The name of the most typical run: per row that moved between runs, each run's distance from the
    row's median in units of the row's standard deviation; the run with the smallest mean distance. A
    reference made from it sits in the middle of the spread, not at one end of it, so a tolerance of a few
    standard deviations covers the other runs on both sides."""
    values = side_by_side(frames).set_index(list(IDENTITY)).astype(float)
    std = values.std(axis=1)
    moved = values[std > 0]
    distance = moved.sub(moved.median(axis=1), axis=0).abs().div(std[std > 0], axis=0)
    return str(distance.mean().idxmin())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/spread"))
    parser.add_argument("--reference", type=Path,
                        help="measure distances and shortfalls from this results CSV (e.g. the committed "
                             "reports/reference/smoke.csv, made on another machine) instead of the first run; "
                             "it joins the runs as one more")
    parser.add_argument("--central", action="store_true",
                        help="measure distances and shortfalls from the most typical run (central_run; its name "
                             "is printed and written to OUT/reference.txt): the run to make the reference from")
    args = parser.parse_args()
    frames = {}
    if args.reference is not None:
        frames["reference"] = pd.read_csv(args.reference).drop(columns=["seed"], errors="ignore")
    for seed in args.seeds:
        for threads in args.threads:
            name = f"seed-{seed}-threads-{threads}"
            done = args.out / name / "results.csv"
            if done.is_file():  # a finished run of an earlier call: kept, not rerun
                frames[name] = pd.read_csv(done).drop(columns=["seed"])
                print(f"{name}: {len(frames[name])} rows (kept from {done})", flush=True)
                continue
            torch.set_num_threads(threads)
            preset = get_preset(args.preset).with_seeds((seed,))
            outcome = run(preset, args.out / name, cache=ArtifactCache(enabled=False), progress=False)
            # read back as written, so every frame (and --reference) has the same dtypes (a missing world is
            # NaN in each, not "" in some): rows that differ only in that would be two rows here
            frames[name] = pd.read_csv(done).drop(columns=["seed"])
            print(f"{name}: {len(outcome.results)} rows, {outcome.manifest['wall_seconds']:.0f} s", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    reference = next(iter(frames))
    if args.central:
        reference = central_run({k: v for k, v in frames.items() if k != "reference"})
        (args.out / "reference.txt").write_text(reference + "\n", encoding="utf-8")
        print(f"most typical run: {reference} (make the reference from {args.out / reference})", flush=True)
    per_row, per_metric = spread_tables(frames, reference)
    per_row.to_csv(args.out / "spread_rows.csv", index=False, float_format="%.10g")
    per_metric.to_csv(args.out / "spread.csv", index=False)
    side_by_side(frames).to_csv(args.out / "runs.csv", index=False, float_format="%.10g")
    print(per_metric.to_string(index=False))


if __name__ == "__main__":
    main()
