"""On-disk artifact cache keyed by what produced each artifact.

Every stage of a run stores what it computed (models, image sets, result rows) under
``<root>/<stage>/<key>.<ext>``; a rerun with the same inputs reuses it, and an interrupted run resumes
from whatever finished. Files are written atomically, tensors as safetensors (never pickles).

Keys are derived, never listed (:func:`derive_key`): an artifact's key is the hash of its kind, its code
version, its own config and the keys of the artifacts it consumes (data -> fingerprint -> stamped data ->
generators -> measurements), so a change anywhere upstream reaches every key below it.

Entries heal themselves: every file :meth:`ArtifactCache.tensors` and :meth:`ArtifactCache.rows` write
gets a SHA-256 sidecar ``<file>.sha256`` (``sha256sum -c`` format), written after the file. A read whose
bytes do not match it, or that does not load (empty, truncated, garbage), warns with
:class:`CacheWarning`, deletes the entry and recomputes it, so one bad file never costs a run. An entry
without a sidecar (written before sidecars existed, or by a run killed between the two writes) is used if
it loads, and gets its sidecar then. Files are written readable by group and others, folders listable
(:mod:`fpbench.atomic`), so a cache can be shared between users.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file

from fpbench.atomic import make_dirs, sha256_file, write_atomic, write_text_atomic
from fpbench.results import coerce
from fpbench.warnings import FpbenchWarning

CACHE_VERSION = 1
CHECKSUM_SUFFIX = ".sha256"


class CacheWarning(FpbenchWarning):
    """A cache entry failed its checksum or did not load; it was deleted and is being recomputed."""


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


def checksum_path(path: Path) -> Path:
    """The SHA-256 sidecar of a cache file: ``<file>.sha256``."""
    return path.with_name(path.name + CHECKSUM_SUFFIX)


def _load_tensors(data: bytes) -> dict[str, torch.Tensor]:
    return load_safetensors(data)


def _load_rows(data: bytes) -> pd.DataFrame:
    return coerce(pd.read_csv(io.BytesIO(data)))


# What a damaged file raises on load. pandas' ParserError and EmptyDataError, UnicodeDecodeError and
# coerce's failed casts are all ValueErrors; anything else is a bug and propagates.
_TENSOR_LOAD_ERRORS: tuple[type[Exception], ...] = (SafetensorError, ValueError)
_ROWS_LOAD_ERRORS: tuple[type[Exception], ...] = (ValueError,)


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
        cached = self._read(path, _load_tensors, _TENSOR_LOAD_ERRORS)
        if cached is not None:
            self._note(True, stage, key)
            return cached
        self._note(False, stage, key)
        value = compute()
        if self.enabled:
            tensors = {k: v.detach().cpu().contiguous() for k, v in value.items()}
            self._write(path, lambda p: save_file(tensors, str(p)))
        return value

    def rows(self, stage: str, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        path = self.path(stage, key, "csv")
        cached = self._read(path, _load_rows, _ROWS_LOAD_ERRORS)
        if cached is not None:
            self._note(True, stage, key)
            return cached
        self._note(False, stage, key)
        df = compute()
        if self.enabled:
            self._write(path, lambda p: df.to_csv(p, index=False, float_format="%.10g"))
        return df

    def file(self, stage: str, key: str, ext: str) -> Path:
        """A path for an artifact the caller writes itself (e.g. a checkpoint); check ``.exists()``.
        Such files get no checksum: the caller validates what it reads back."""
        path = self.path(stage, key, ext)
        make_dirs(path.parent)
        return path

    def _read(self, path: Path, load: Callable[[bytes], Any], errors: tuple[type[Exception], ...]) -> Any:
        """The entry at ``path`` loaded, or None when there is none or it was bad (then it is deleted)."""
        if not self.enabled:
            return None
        try:
            data = path.read_bytes()  # one read: the bytes checked are the bytes loaded
        except FileNotFoundError:
            return None
        digest = hashlib.sha256(data).hexdigest()
        expected = self._recorded_digest(path)
        if expected is not None and expected != digest:
            return self._discard(path, f"its SHA-256 is {digest} but {checksum_path(path).name} records "
                                       f"{expected or '(nothing readable)'}")
        try:
            value = load(data)
        except errors as exc:
            return self._discard(path, f"it does not load ({type(exc).__name__}: {exc})")
        if expected is None:  # written before checksums: it loads, so record what it holds now
            try:
                self._write_checksum(path, digest)
            except OSError:
                pass  # a cache shared read-only: it still loads, unchecked as before
        return value

    @staticmethod
    def _recorded_digest(path: Path) -> str | None:
        """The digest in ``path``'s sidecar, "" if the sidecar is unreadable text, None if there is none."""
        try:
            text = checksum_path(path).read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return None
        words = text.split()
        return words[0].lower() if words else ""

    def _discard(self, path: Path, reason: str) -> None:
        warnings.warn(
            f"cache entry {path} is damaged: {reason}. Deleted it and recomputing it now; nothing to do "
            f"unless this recurs, then check the disk holding {self.root}.",
            CacheWarning,
            stacklevel=4,  # the caller of tensors()/rows()
        )
        path.unlink(missing_ok=True)
        checksum_path(path).unlink(missing_ok=True)

    def _write(self, path: Path, write: Callable[[Path], None]) -> None:
        """Write the entry atomically, then its sidecar (so a sidecar never vouches for a missing file)."""
        checksum_path(path).unlink(missing_ok=True)  # a stale sidecar must not judge the new file
        digests: list[str] = []

        def write_and_hash(tmp: Path) -> None:
            write(tmp)
            digests.append(sha256_file(tmp))  # the bytes that are renamed into place

        write_atomic(path, write_and_hash)
        self._write_checksum(path, digests[0])

    @staticmethod
    def _write_checksum(path: Path, digest: str) -> None:
        write_text_atomic(checksum_path(path), f"{digest}  {path.name}\n")
