"""Every fingerprinting method on the stamped photos of a preset, through the method protocol: fit on the
preset's training crops, stamp its test crops with one fingerprint, then bit accuracy clean and under the
image attacks named (the registry's real codecs), with the stamped photos' PSNR.

    python scripts/compare_methods.py --preset quick --threads 2 --out runs/methods.csv

Learned methods train with the preset's ``fingerprint`` config (its target PSNR calibrates them); classical
ones use their defaults. This is the data half of issue 15's comparison (no generators)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import pandas as pd
import torch

from fpbench.attacks.registry import get_attack
from fpbench.data.builtin import BuiltinData, crops
from fpbench.fingerprint.embedding import random_fingerprint
from fpbench.methods import all_methods, make_method
from fpbench.metrics import psnr
from fpbench.pipeline.presets import get_preset

ATTACKS = (("jpeg", 90), ("gaussian_blur", 5), ("center_crop", 0.9))


def bit_accuracy(method, images: torch.Tensor, fingerprint: torch.Tensor) -> float:
    return float(((method.decode(images) > 0.5).float() == fingerprint).float().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--methods", nargs="*", help="method ids (default: every registered method)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    p = get_preset(args.preset)
    train = crops(BuiltinData("train", p.data.n_train, p.resolution, seed=p.data.seed))
    test = crops(BuiltinData("test", p.data.n_test, p.resolution, seed=p.data.seed))
    fp = random_fingerprint(p.n_bits, 42)
    options = {f.name: getattr(p.fingerprint, f.name) for f in dataclasses.fields(p.fingerprint)
               if f.name not in ("n_bits", "resolution", "perturbations")}
    rows = []
    for method_id in args.methods or all_methods().ids():
        factory = all_methods().get(method_id)
        learned = getattr(factory, "learned", False)
        method = make_method(method_id, n_bits=p.n_bits, resolution=p.resolution, **(options if learned else {}))
        start = time.perf_counter()
        method.fit(train, seed=0, progress=False)
        fit_s = time.perf_counter() - start
        stamped = method.embed(test, fp)
        x = stamped.float() / 255
        quality = float(psnr(test.float() / 255, x).mean())

        row = {"method": method_id, "psnr": quality, "fit_seconds": round(fit_s, 1),
               "clean": bit_accuracy(method, x, fp)}
        for attack, value in ATTACKS:
            row[f"{attack}={value:g}"] = bit_accuracy(method, get_attack(attack)(x, value, seed=0), fp)
        print(row, flush=True)
        rows.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(args.out, index=False, float_format="%.4f")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
