"""Provenance written beside every results table: versions, commit, preset, config hash, seeds,
device and wall time per stage."""

from __future__ import annotations

import platform
import subprocess
import sys
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from fpbench.cache import config_hash
from fpbench.pipeline.config import RunConfig

PACKAGES = ("fpbench", "torch", "torchvision", "kornia", "numpy", "scipy", "pandas", "scikit-learn",
            "scikit-image", "pillow", "seaborn", "clean-fid", "safetensors")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(cwd: Path | None = None) -> str:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd or Path(__file__).parent, capture_output=True,
                             text=True, timeout=5, check=False)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd or Path(__file__).parent,
                               capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if res.returncode != 0:
        return "unknown"
    return res.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def build_manifest(preset: RunConfig, *, device: str, data_source: str, stage_seconds: dict[str, float],
                   extra: dict[str, Any]) -> dict[str, Any]:
    import torch

    return {
        "preset": preset.name,
        "config_hash": config_hash(preset),
        "config": asdict(preset),
        "seeds": {"run": list(preset.seeds), "data": preset.data.seed,
                  "fingerprint_training": preset.fingerprint.seed},
        "target_psnr": preset.fingerprint.target_psnr,
        "device": device,
        "device_name": torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu",
        "torch_threads": torch.get_num_threads(),
        "data_source": data_source,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "stage_seconds": stage_seconds,
        **extra,
    }
