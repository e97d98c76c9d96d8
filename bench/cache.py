"""On-disk artifact cache keyed by what produced each artifact.

Every stage of a run stores what it computed (models, image sets, result rows) under
``<root>/<stage>/<key>.<ext>``; a rerun with the same inputs reuses it, and an interrupted run resumes
from whatever finished. Files are written atomically, tensors as safetensors (never pickles).

Keys are derived, never listed (:func:`derive_key`): an artifact's key is the hash of its kind, its code
version, its own config and the keys of the artifacts it consumes (data -> fingerprint -> stamped data ->
generators -> measurements), so a change anywhere upstream reaches every key below it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors.torch import load_file, save_file

from fpbench.atomic import write_atomic
from fpbench.results import coerce

CACHE_VERSION = 1


def _plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__type__": type(obj).__name__, **{k: _plain(v) for k, v in dataclasses.asdict(obj).items()}}
    if isinstance(obj, Mapping):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return hashlib.sha256(obj.detach().cpu().contiguous().numpy().tobytes()).hexdigest()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and obj.is_integer():
        return int(obj)  # numerically equal configs hash equal: l2_weight 30 (Python) and 30.0 (YAML)
    return obj


def config_hash(*parts: Any) -> str:
    """A short stable hash of configs (dataclasses, dicts, tensors): the cache key."""
    text = json.dumps([CACHE_VERSION, *map(_plain, parts)], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def derive_key(kind: str, version: int, config: Any = None, **inputs: str) -> str:
    """The key of an artifact of ``kind`` made by code of ``version`` from ``config`` and the artifacts
    whose keys are ``inputs`` (name -> key). The input names are part of the key, so two artifacts that
    consume the same keys in different roles do not collide."""
    if not kind or not isinstance(version, int):
        raise ValueError(f"an artifact needs a kind and an integer code version, got {kind!r}, {version!r}")
    bad = {name: key for name, key in inputs.items() if not (isinstance(key, str) and key)}
    if bad:
        raise ValueError(f"input keys must be non-empty strings, got {bad}")
    return config_hash("artifact", kind, version, config, sorted(inputs.items()))


def content_key(*tensors: torch.Tensor) -> str:
    """The key of raw inputs nothing upstream describes (a user's image folder): a hash of their bytes,
    shapes and dtypes."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def default_root() -> Path:
    env = os.environ.get("FPBENCH_CACHE_DIR")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fpbench"


class ArtifactCache:
    def __init__(self, root: str | Path | None = None, enabled: bool = True) -> None:
        self.root = Path(root) if root else default_root()
        self.enabled = enabled
        self.hits: list[str] = []
        self.misses: list[str] = []

    def path(self, stage: str, key: str, ext: str) -> Path:
        return self.root / stage / f"{key}.{ext}"

    def _note(self, hit: bool, stage: str, key: str) -> None:
        (self.hits if hit else self.misses).append(f"{stage}/{key}")

    def tensors(self, stage: str, key: str, compute: Callable[[], dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        path = self.path(stage, key, "safetensors")
        if self.enabled and path.exists():
            self._note(True, stage, key)
            return load_file(str(path))
        self._note(False, stage, key)
        value = compute()
        if self.enabled:
            tensors = {k: v.detach().cpu().contiguous() for k, v in value.items()}
            write_atomic(path, lambda p: save_file(tensors, str(p)))
        return value

    def rows(self, stage: str, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        path = self.path(stage, key, "csv")
        if self.enabled and path.exists():
            self._note(True, stage, key)
            return coerce(pd.read_csv(path))
        self._note(False, stage, key)
        df = compute()
        if self.enabled:
            write_atomic(path, lambda p: df.to_csv(p, index=False, float_format="%.10g"))
        return df

    def file(self, stage: str, key: str, ext: str) -> Path:
        """A path for an artifact the caller writes itself (e.g. a checkpoint); check ``.exists()``."""
        path = self.path(stage, key, ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path
