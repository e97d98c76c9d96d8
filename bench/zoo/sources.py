"""Loaders behind model cards: image folders and ``module:function`` callables."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from fpbench.data.folder import ImageFolderError, ImageTooLargeError, read_rgb
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
    """Float ``N x 3 x R x R`` in [0, 1]; every file converted to RGB (grayscale, RGBA, palette; 16-bit
    scaled by its range, see :func:`fpbench.data.folder.to_rgb`) and required to be
    ``resolution x resolution`` (no silent resizing). Files above PIL's decompression-bomb limit are
    refused before decoding."""
    if not files:
        raise ModelCardError("no image files to load; the card's folder must hold at least one image")
    arrays = []
    for f in files:
        try:
            rgb = read_rgb(f)
        except ImageTooLargeError as exc:  # its message names the limit and the fix
            raise ModelCardError(str(exc)) from exc
        except ImageFolderError as exc:
            raise ModelCardError(f"{exc}; remove or replace it in the card's folder") from exc
        if rgb.size != (resolution, resolution):
            raise ModelCardError(f"image {f} is {rgb.size[0]}x{rgb.size[1]} (WxH), expected "
                                 f"{resolution}x{resolution} (the card's resolution)")
        arrays.append(np.asarray(rgb))
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).float().div_(255)


def describe_failure(exc: BaseException) -> str:
    """``"RuntimeError: boom"``; a ``sys.exit`` is named as such (it is caught, not obeyed)."""
    if isinstance(exc, SystemExit):
        return f"SystemExit (it called sys.exit({exc.code!r}); the benchmark does not exit for a card)"
    return f"{type(exc).__name__}: {exc}"


def import_callable(spec: str, *, where: str = "") -> Callable[[], object]:
    """Import ``"module:function"``; errors say whether the module or the function is missing, and
    anything the module raises while importing (even ``SystemExit``) becomes :class:`ModelCardError`.
    ``where`` (e.g. ``"model card zoo/m.yaml"``) prefixes the messages."""
    prefix = f"{where}: " if where else ""
    module_name, _, func_name = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise ModelCardError(f"{prefix}callable {spec!r}: no module named {module_name!r} "
                                 "(is its folder on sys.path / the package installed?)") from exc
        raise ModelCardError(f"{prefix}callable {spec!r}: module {module_name!r} imports {exc.name!r}, "
                             "which is not installed") from exc
    except (Exception, SystemExit) as exc:  # the module's own code failed; Ctrl-C still stops
        raise ModelCardError(f"{prefix}callable {spec!r}: importing module {module_name!r} raised "
                             f"{describe_failure(exc)}; fix the module or point the card at another") from exc
    func = getattr(module, func_name, None)
    if func is None:
        raise ModelCardError(f"{prefix}callable {spec!r}: module {module_name!r} has no attribute "
                             f"{func_name!r}")
    if not callable(func):
        raise ModelCardError(f"{prefix}callable {spec!r}: {func_name!r} is a {type(func).__name__}, "
                             "not callable")
    return func
