"""What every stage of a run shares: the preset, the cache, the device, timings and result rows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from fpbench.cache import ArtifactCache, derive_key
from fpbench.fid import extractor_key, resolve_extractor
from fpbench.pipeline.config import RunConfig
from fpbench.results import Row


@dataclass
class RunContext:
    preset: RunConfig
    cache: ArtifactCache
    out: Path
    device: str = "cpu"
    data_dir: Path | None = None
    progress: bool = True
    stage_seconds: dict[str, float] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)
    artifacts: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    # keys of the artifacts this run has produced so far, by role (data, fingerprint, zoo, fid, ...): every
    # measurement's key includes all of them (:meth:`key`), so nothing upstream can be left out of it
    lineage: dict[str, str] = field(default_factory=dict)
    fid_extractor: str = "random-conv-v1"  # resolved once per run (fpbench.fid.resolve_extractor)

    @classmethod
    def start(cls, preset: RunConfig, cache: ArtifactCache, out: Path, *, allow_download: bool = False,
              **kwargs: Any) -> RunContext:
        """A context for one run: the FID extractor of ``preset.evaluation.fid_extractor`` is resolved once
        (``"auto"``: Inception if its weights are on disk; ``"inception"`` without them is an error unless
        ``allow_download`` lets clean-fid fetch them) and its key starts the run's lineage."""
        extractor = resolve_extractor(preset.evaluation.fid_extractor, allow_download=allow_download)
        return cls(preset=preset, cache=cache, out=out, fid_extractor=extractor,
                   lineage={"fid": extractor_key(extractor)}, **kwargs)

    def key(self, kind: str, version: int, config: Any = None, **inputs: str) -> str:
        """The cache key of a measurement: its kind, code version and config, and the keys of everything
        upstream of it in this run (``lineage``) plus any extra ``inputs``."""
        return derive_key(kind, version, config, **self.lineage, **inputs)

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
