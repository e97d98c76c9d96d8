"""Loaders behind model cards: image folders and ``module:function`` callables."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fpbench.zoo.card import ModelCardError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def list_images(folder: Path) -> list[Path]:
    if not folder.exists():
        raise ModelCardError(f"image folder {folder} does not exist")
    if not folder.is_dir():
        raise ModelCardError(f"image folder {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ModelCardError(f"image folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def load_images(files: list[Path], resolution: int) -> torch.Tensor:
    """Float ``N x 3 x R x R`` in [0, 1]; every file converted to RGB (grayscale, RGBA, palette...)
    and required to be ``resolution x resolution`` (no silent resizing)."""
    out = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    for i, f in enumerate(files):
        try:
            with Image.open(f) as img:
                rgb = img.convert("RGB")
        except OSError as exc:
            raise ModelCardError(f"cannot read image {f}: {exc}") from exc
        if rgb.size != (resolution, resolution):
            raise ModelCardError(f"image {f} is {rgb.size[0]}x{rgb.size[1]} (WxH), expected "
                                 f"{resolution}x{resolution} (the card's resolution)")
        out[i] = np.asarray(rgb)
    return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255)


def import_callable(spec: str) -> Callable[[], object]:
    """Import ``"module:function"``; errors say whether the module or the function is missing."""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ModelCardError(f"callable {spec!r}: no module named {module_name!r} "
                                 "(is its folder on sys.path / the package installed?)") from exc
        raise ModelCardError(f"callable {spec!r}: module {module_name!r} imports {exc.name!r}, "
                             "which is not installed") from exc
    func = getattr(module, func_name, None)
    if func is None:
        raise ModelCardError(f"callable {spec!r}: module {module_name!r} has no attribute {func_name!r}")
    if not callable(func):
        raise ModelCardError(f"callable {spec!r}: {func_name!r} is a {type(func).__name__}, not callable")
    return func
