"""What every stage of a run shares: the preset, the cache, the device, timings and result rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.cache import ArtifactCache
from bench.presets import Preset
from bench.results import Row


@dataclass
class RunContext:
    preset: Preset
    cache: ArtifactCache
    out: Path
    device: str = "cpu"
    data_dir: Path | None = None
    progress: bool = True
    stage_seconds: dict[str, float] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stage_seconds[name] = round(self.stage_seconds.get(name, 0.0) + time.perf_counter() - start, 3)

    def log(self, message: str) -> None:
        if self.progress:
            print(f"[fpbench] {message}", flush=True)

    @property
    def seed(self) -> int:
        return self.preset.seed


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
