"""Users' own images: a folder (flat or nested) of PNG/JPEG/WebP files -> uint8 Nx3xRxR.

Preprocessing (``mode``):
- ``"paper"``: resize the short side to R (antialiased bicubic), then centre-crop RxR (the authors'
  default for non-CelebA sets);
- ``"celeba"``: centre-crop 148x148, then resize to R (the authors' CelebA preprocessing; images must be
  at least 148 px on the short side).
Grayscale, palette and RGBA files are converted to RGB (alpha dropped). Images whose short side is below
R are an error unless ``allow_upscale=True``. Unreadable files raise, or are skipped with one counted
warning when ``on_error="skip"``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MODES = ("paper", "celeba")


class DataWarning(UserWarning):
    """Images were skipped or changed while loading user data."""


class ImageFolderError(ValueError):
    """A user image folder cannot be used as given; the message says how to fix it."""


def list_images(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.exists():
        raise ImageFolderError(f"image folder {root} does not exist; pass --data with an existing folder")
    if not root.is_dir():
        raise ImageFolderError(f"{root} is a file, not a folder of images; pass its parent folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in EXTENSIONS)
    if not files:
        raise ImageFolderError(
            f"no images found in {root} (searched recursively for {', '.join(EXTENSIONS)}); "
            "point --data at a folder that contains PNG, JPEG or WebP files"
        )
    return files


def preprocess(image: Image.Image, resolution: int, mode: str = "paper", allow_upscale: bool = False,
               name: str = "image") -> np.ndarray:
    """One PIL image -> HxWx3 uint8 array of side ``resolution``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    image = image.convert("RGB")
    w, h = image.size
    if mode == "celeba":
        if min(w, h) < 148:
            raise ImageFolderError(f"{name} is {w}x{h}; CelebA preprocessing centre-crops 148x148, so "
                                   "images need a short side >= 148 (use mode 'paper' instead)")
        left, top = (w - 148) // 2, (h - 148) // 2
        image = image.crop((left, top, left + 148, top + 148))
        return np.asarray(image.resize((resolution, resolution), Image.Resampling.BICUBIC))
    if min(w, h) < resolution and not allow_upscale:
        raise ImageFolderError(
            f"{name} is {w}x{h}, smaller than the resolution {resolution}; use larger images, a smaller "
            "resolution, or allow_upscale=True (--allow-upscale) to enlarge them"
        )
    scale = resolution / min(w, h)
    new = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
    image = image.resize(new, Image.Resampling.BICUBIC, reducing_gap=None)
    left, top = (new[0] - resolution) // 2, (new[1] - resolution) // 2
    return np.asarray(image.crop((left, top, left + resolution, top + resolution)))


def load_folder(root: str | Path, resolution: int, *, mode: str = "paper", on_error: str = "raise",
                allow_upscale: bool = False, limit: int | None = None) -> torch.Tensor:
    """Load every image under ``root`` as uint8 Nx3xRxR (sorted by path, deterministic)."""
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    files = list_images(root)[:limit]
    arrays, skipped = [], []
    for path in files:
        try:
            with Image.open(path) as im:
                im.load()
                arrays.append(preprocess(im, resolution, mode, allow_upscale, name=str(path)))
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            if on_error == "raise":
                raise ImageFolderError(
                    f"cannot read {path}: {exc}. Remove or fix the file, or pass on_error='skip' "
                    "(--skip-bad-images) to skip unreadable files"
                ) from exc
            skipped.append(path)
    if skipped:
        warnings.warn(f"skipped {len(skipped)} unreadable image(s) of {len(files)} in {root}, "
                      f"first: {skipped[0]}", DataWarning, stacklevel=2)
    if not arrays:
        raise ImageFolderError(f"none of the {len(files)} files in {root} could be read")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def split_folder(images: torch.Tensor, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic train/test split of a user image set (by image: one file is one source)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_test = max(1, int(round(len(images) * test_fraction)))
    if n_test >= len(images):
        raise ImageFolderError(f"only {len(images)} image(s): too few to split into train and test")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[n_test:]], images[order[:n_test]]
