"""The learnability curve of the learned baselines: closed-world accuracy against training images per class.

Runs a preset's baseline stage (the fingerprint and the zoo come from the cache, so run the preset once
first; the attack stages are left out) with ``baselines.train_per_class`` set to each size, one baseline at a
time, closed world only, and writes one CSV row per (baseline, size): the zoo's detection and attribution
accuracy, the best validation accuracy, the epochs run of the budget (``--epochs``: every baseline's, default
the preset's own) and seconds; the validation curves go beside it (``OUT.curves.json``). ``--set NAME=VALUE``
(a JSON value) changes an estimator hyperparameter, ``--random-states`` repeats each fit with other estimator
seeds (the zoo stays the run seed's): a recipe is compared across seeds on one zoo.

    python scripts/baseline_learnability.py --preset quick --cache-dir ~/.cache/fpbench \\
        --sizes 125,250,500,1000 --baselines yu2019,wang2020 --out learnability.csv
    python scripts/baseline_learnability.py --preset quick --cache-dir ~/.cache/fpbench --sizes 1000 \\
        --baselines yu2019 --epochs 40 --set init='"he"' --random-states 0,1 --threads 1 --out yu_he.csv
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import torch

import fpbench.pipeline.stages.baselines as stage
from fpbench.cache import ArtifactCache
from fpbench.pipeline.config import RunConfig
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run


def baselines_only(preset: RunConfig) -> RunConfig:
    """``preset`` with its first method only and no attack stages: data, fingerprint, zoo, baselines."""
    return preset.updated({
        "methods": [preset.methods[0]], "image_attacks": {"attacks": []},
        "model_attacks": {"attacks": [], "per_method": None}, "adaptive": {"attacks": [], "per_method": None},
        "evaluation": {"grids": dict.fromkeys(preset.grids)}})


@contextlib.contextmanager
def estimator_settings(settings: dict) -> Iterator[None]:
    """Every estimator the baseline stage makes gets ``settings`` (those it has); they enter its cache key."""
    original = stage.make_estimator

    def make(baseline_id, ctx, method=None):
        clf = original(baseline_id, ctx, method)
        return clf.set_params(**{k: v for k, v in settings.items() if k in clf.get_params()})

    stage.make_estimator = make
    try:
        yield
    finally:
        stage.make_estimator = original


def measure(preset_name: str, cache_dir: Path, sizes: list[int], baselines: list[str],
            epochs: int | None = None, settings: dict | None = None,
            random_states: list[int | None] = (None,), curves: dict | None = None) -> pd.DataFrame:
    base = baselines_only(get_preset(preset_name))
    rows = []
    for baseline, size, state in itertools.product(baselines, sizes, random_states):
        budget = {"epochs_by_method": {baseline: epochs}} if epochs else {}
        preset = base.updated({"baselines": {
            "methods": [baseline], "train_per_class": size, "unseen": [], "attacks": [], "attack_methods": [],
            "immunised": False, **budget}})
        seeded = {**(settings or {}), **({"random_state": state} if state is not None else {})}
        with tempfile.TemporaryDirectory() as out, estimator_settings(seeded):
            outcome = run(preset, out, cache=ArtifactCache(cache_dir), progress=False)
        df = outcome.results
        zoo = df[(df["method"] == baseline) & (df["model"] == "zoo") & (df["attack"] == "none")]
        values = zoo.set_index("metric")["value"]
        record = outcome.manifest.get("baseline_training", {}).get(f"{baseline}/closed", {})
        best = record["val_accuracy"][record["best_epoch"] - 1] if record.get("best_epoch") else float("nan")
        rows.append({"baseline": baseline, "train_per_class": size, "random_state": state,
                     "detection_accuracy": values.get("detection_accuracy"),
                     "attribution_accuracy": values.get("attribution_accuracy"),
                     "best_val_accuracy": best, "epochs": record.get("epochs"),
                     "budget_epochs": record.get("budget_epochs"), "seconds": record.get("seconds")})
        if curves is not None:
            curves[f"{baseline}/{size}/{state}"] = record.get("val_accuracy", [])
        print(rows[-1], "validation accuracy per epoch:", [round(v, 3) for v in record.get("val_accuracy", [])],
              flush=True)
    return pd.DataFrame(rows)


def _setting(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--set wants NAME=VALUE (VALUE in JSON), got {text!r}")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"--set {name}: {value!r} is not JSON (a string needs quotes)") from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--cache-dir", type=Path, required=True)
    parser.add_argument("--sizes", default="125,250,500,1000")
    parser.add_argument("--baselines", default="yu2019,wang2020")
    parser.add_argument("--epochs", type=int, default=None, help="epoch budget of each baseline (default: the preset's)")
    parser.add_argument("--set", type=_setting, action="append", default=[], metavar="NAME=VALUE",
                        help="an estimator hyperparameter, VALUE in JSON (e.g. init='\"he\"')")
    parser.add_argument("--random-states", default="", help="estimator seeds, e.g. 0,1 (default: the run seed)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    states = [int(s) for s in args.random_states.split(",")] if args.random_states else [None]
    curves: dict = {}
    table = measure(args.preset, args.cache_dir, [int(s) for s in args.sizes.split(",")], args.baselines.split(","),
                    args.epochs, dict(args.set), states, curves)
    table.to_csv(args.out, index=False)
    args.out.with_suffix(".curves.json").write_text(json.dumps(curves, indent=1), encoding="utf-8")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
