"""Measure run-to-run spread of a preset's numbers over several seeds, for regression tolerances.

    python scripts/measure_spread.py --preset smoke --seeds 0 1 2 --out runs/spread

Runs the preset once per seed (each into OUT/seed-N), then writes OUT/spread.csv with columns
metric,spread: per metric, the 90th percentile over rows of the standard deviation across seeds
(a median would call a metric that is 0 or 1 on most rows spread-free). Feed it to
`fpbench update-reference RUN_DIR --name PRESET --spread OUT/spread.csv`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from bench.cache import ArtifactCache
from bench.presets import get_preset
from bench.runner import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="smoke")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/spread"))
    parser.add_argument("--cache-dir", type=Path)
    args = parser.parse_args()
    frames = []
    for seed in args.seeds:
        preset = get_preset(args.preset).with_seed(seed)
        outcome = run(preset, args.out / f"seed-{seed}", cache=ArtifactCache(args.cache_dir), progress=False)
        frames.append(outcome.results.drop(columns=["seed"]).assign(run_seed=seed))
    df = pd.concat(frames)
    key = ["method", "model", "attack", "attack_kind", "param", "metric", "world"]
    per_row = df.groupby(key, dropna=False)["value"].std().reset_index()
    spread = per_row.groupby("metric")["value"].quantile(0.9).fillna(0.0).rename("spread").reset_index()
    args.out.mkdir(parents=True, exist_ok=True)
    spread.to_csv(args.out / "spread.csv", index=False)
    print(spread.to_string(index=False))


if __name__ == "__main__":
    main()
