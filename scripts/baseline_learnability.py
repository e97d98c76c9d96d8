"""The learnability curve of the learned baselines: closed-world accuracy against training images per class.

Runs a preset's baseline stage (everything else comes from the cache, so run the preset once first) with
``baselines.train_per_class`` set to each size, one baseline at a time, and writes one CSV row per (baseline,
size): the zoo's detection and attribution accuracy, the best validation accuracy, epochs and seconds.

    python scripts/baseline_learnability.py --preset quick --cache-dir ~/.cache/fpbench \\
        --sizes 125,250,500,1000 --baselines yu2019,wang2020 --out learnability.csv
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch

from fpbench.cache import ArtifactCache
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run


def measure(preset_name: str, cache_dir: Path, sizes: list[int], baselines: list[str]) -> pd.DataFrame:
    base = get_preset(preset_name)
    rows = []
    for baseline in baselines:
        for size in sizes:
            preset = base.updated({"methods": [base.methods[0]], "baselines": {
                "methods": [baseline], "train_per_class": size, "unseen": [], "attack_methods": [], "immunised": False}})
            with tempfile.TemporaryDirectory() as out:
                outcome = run(preset, out, cache=ArtifactCache(cache_dir), progress=False)
            df = outcome.results
            zoo = df[(df["method"] == baseline) & (df["model"] == "zoo") & (df["attack"] == "none")]
            values = zoo.set_index("metric")["value"]
            record = outcome.manifest.get("baseline_training", {}).get(f"{baseline}/closed", {})
            best = record["val_accuracy"][record["best_epoch"] - 1] if record.get("best_epoch") else float("nan")
            rows.append({"baseline": baseline, "train_per_class": size,
                         "detection_accuracy": values.get("detection_accuracy"),
                         "attribution_accuracy": values.get("attribution_accuracy"),
                         "best_val_accuracy": best, "epochs": record.get("epochs"),
                         "seconds": record.get("seconds")})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--sizes", default="125,250,500,1000")
    parser.add_argument("--baselines", default="yu2019,wang2020")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    table = measure(args.preset, args.cache_dir, [int(s) for s in args.sizes.split(",")], args.baselines.split(","))
    table.to_csv(args.out, index=False)
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
