"""Atomic, shareable file writes: a reader never sees a half-written results file or checkpoint, and
another user sharing the folder can read what was written.

Modes: the process umask still decides group/other *write*, but files always come out readable
(at least ``0644``) and folders listable (at least ``0755``) by group and others. A stricter umask such as
``077`` would otherwise make a shared cache or results folder unreadable to everyone but its writer.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

FILE_READ_BITS = 0o644  # owner read/write, group and others read
DIR_READ_BITS = 0o755  # owner all, group and others read and enter


def make_dirs(path: str | os.PathLike[str]) -> Path:
    """``mkdir -p path``; each folder created here gets at least mode ``0755`` (what the umask allows
    beyond that, e.g. group write under umask 002, it keeps). Existing folders are left as they are."""
    path = Path(path)
    missing = []
    parent = path
    while not parent.is_dir():
        missing.append(parent)
        if parent.parent == parent:
            break
        parent = parent.parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o777)  # the kernel applies the umask
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # made by another process meanwhile: its modes are its own
        os.chmod(folder, (os.stat(folder).st_mode & 0o7777) | DIR_READ_BITS)
    return path


def _create_temp(folder: Path, name: str) -> Path:
    """A new empty file next to the target, mode ``0666 & ~umask`` (``mkstemp`` would give 0600)."""
    while True:
        tmp = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp


def write_atomic(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then move the finished file onto ``path`` in one rename.

    The file ends up with at least mode ``0644`` whatever the umask (see the module docstring), and the
    folders created for it with at least ``0755``."""
    path = Path(path)
    make_dirs(path.parent)
    tmp_path = _create_temp(path.parent, path.name)
    mode = (os.stat(tmp_path).st_mode & 0o777) | FILE_READ_BITS  # what the umask allowed, plus read
    try:
        write(tmp_path)
        # after the write: a writer that replaced the temp file with its own (safetensors' save_file
        # does, with mode 0600) gets the mode too
        os.chmod(tmp_path, mode)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    return path


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
