"""Users' own images: a folder (flat or nested) of PNG/JPEG/WebP files -> uint8 Nx3xRxR.

Preprocessing (``mode``):
- ``"paper"``: resize the short side to R (antialiased bicubic), then centre-crop RxR (the authors'
  default for non-CelebA sets);
- ``"celeba"``: centre-crop 148x148, then resize to R (the authors' CelebA preprocessing; images must be
  at least 148 px on the short side).
Grayscale, palette and RGBA files are converted to RGB (alpha dropped); 16-bit and float files are scaled
to 8 bits by their range (:func:`to_rgb`). Symlinked sub-folders are followed, each real folder once.
Images whose short side is below R are an error unless ``allow_upscale=True``. Unreadable files raise, or
are skipped with one counted warning when ``on_error="skip"``. Images above PIL's decompression-bomb
limit (``PIL.Image.MAX_IMAGE_PIXELS``) are always skipped with a counted warning naming the limit.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
MODES = ("paper", "celeba")


class DataWarning(UserWarning):
    """Images were skipped or changed while loading user data."""


class ImageFolderError(ValueError):
    """A user image folder cannot be used as given; the message says how to fix it."""


class UnreadableImageError(ImageFolderError):
    """One file could not be decoded (not an image, truncated, corrupt)."""


class ImageTooLargeError(ImageFolderError):
    """One file has more pixels than PIL's decompression-bomb limit, so it was not decoded."""


def _walk_files(root: Path) -> list[Path]:
    """Every file under ``root``, following symlinked folders but entering each real folder once
    (a link to a parent or to itself ends there instead of looping)."""
    seen = {_identity(root)}
    files = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        keep = []
        for name in sorted(dirnames):
            ident = _identity(Path(dirpath, name))
            if ident is not None and ident not in seen:
                seen.add(ident)
                keep.append(name)
        dirnames[:] = keep
        files.extend(Path(dirpath, name) for name in filenames)
    return files


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        st = folder.stat()
    except OSError:  # broken link, no permission: os.walk skips it too
        return None
    return st.st_dev, st.st_ino


def list_images(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.exists():
        raise ImageFolderError(f"image folder {root} does not exist; pass --data with an existing folder")
    if not root.is_dir():
        raise ImageFolderError(f"{root} is a file, not a folder of images; pass its parent folder")
    files = sorted(p for p in _walk_files(root) if p.suffix.lower() in EXTENSIONS and p.is_file())
    if not files:
        raise ImageFolderError(
            f"no images found in {root} (searched recursively for {', '.join(EXTENSIONS)}); "
            "point --data at a folder that contains PNG, JPEG or WebP files"
        )
    return files


def to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL image -> 8-bit RGB. PIL's own ``convert`` clips 16-bit and float values (a 16-bit
    grayscale PNG turns almost white), so those modes are scaled by their range first:

    - ``I;16``, ``I;16B``, ``I;16L``, ``I;16N`` (16-bit): 0..65535 -> 0..255, i.e. ``round(v / 257)``;
    - ``I`` (32-bit int): as 16-bit when every value is <= 65535, else 0..2**31-1 -> 0..255;
      negative values become 0;
    - ``F`` (32-bit float): read as [0, 1] (-> ``round(v * 255)``, negatives 0) when the maximum is <= 1,
      else as 0..255 (rounded and clipped); NaN or inf raise ``ValueError``.

    Other modes (L, LA, P, RGBA, CMYK...) use PIL's conversion; alpha is dropped, not composited."""
    if image.mode == "RGB":
        return image
    if not (image.mode.startswith("I;16") or image.mode in ("I", "F")):
        return image.convert("RGB")
    values = np.asarray(image, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError(f"float image holds {int((~np.isfinite(values)).sum())} NaN/inf pixel value(s)")
    top = float(values.max(initial=0.0))
    if image.mode.startswith("I;16") or (image.mode == "I" and top <= 65535):
        scaled = values / 257
    elif image.mode == "I":
        scaled = values * (255 / (2**31 - 1))
    else:
        scaled = values * 255 if top <= 1 else values
    gray = np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)
    return Image.fromarray(gray).convert("RGB")


def read_rgb(path: str | Path) -> Image.Image:
    """Decode one file completely -> 8-bit RGB (:func:`to_rgb`). Raises :class:`ImageTooLargeError`
    above ``PIL.Image.MAX_IMAGE_PIXELS`` (before decoding), :class:`UnreadableImageError` for anything
    else that stops decoding."""
    try:
        with warnings.catch_warnings():
            # PIL only warns between the limit and twice the limit; both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return to_rgb(image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(
            f"{path} has more pixels than PIL's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} "
            "(PIL.Image.MAX_IMAGE_PIXELS); downscale it, or raise that limit if you trust the file"
        ) from exc
    except Exception as exc:  # decoders raise more than OSError on bad bytes: SyntaxError, ValueError...
        raise UnreadableImageError(f"cannot read {path}: {type(exc).__name__}: {exc}") from exc


def preprocess(image: Image.Image, resolution: int, mode: str = "paper", allow_upscale: bool = False,
               name: str = "image") -> np.ndarray:
    """One PIL image -> HxWx3 uint8 array of side ``resolution``."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    image = to_rgb(image)
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
            "resolution, or enlarge them: fpbench run --allow-upscale (data.allow_upscale: true in a config file)"
        )
    scale = resolution / min(w, h)
    new = (max(resolution, round(w * scale)), max(resolution, round(h * scale)))
    image = image.resize(new, Image.Resampling.BICUBIC, reducing_gap=None)
    left, top = (new[0] - resolution) // 2, (new[1] - resolution) // 2
    return np.asarray(image.crop((left, top, left + resolution, top + resolution)))


def load_folder(root: str | Path, resolution: int, *, mode: str = "paper", on_error: str = "raise",
                allow_upscale: bool = False, limit: int | None = None) -> torch.Tensor:
    """Load every image under ``root`` as uint8 Nx3xRxR (sorted by path, deterministic)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    files = list_images(root)[:limit]
    arrays, unreadable, too_large = [], [], []
    for path in files:
        try:
            image = read_rgb(path)
        except ImageTooLargeError:
            too_large.append(path)
            continue
        except UnreadableImageError as exc:
            if on_error == "raise":
                raise UnreadableImageError(
                    f"{exc}. Remove or fix the file, or pass on_error='skip' (--skip-bad-images) to skip "
                    "unreadable files") from exc
            unreadable.append(path)
            continue
        arrays.append(preprocess(image, resolution, mode, allow_upscale, name=str(path)))
    if unreadable:
        warnings.warn(f"skipped {len(unreadable)} unreadable image(s) of {len(files)} in {root}, "
                      f"first: {unreadable[0]}", DataWarning, stacklevel=2)
    if too_large:
        warnings.warn(f"skipped {len(too_large)} image(s) of {len(files)} in {root} with more pixels than "
                      f"PIL's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} "
                      f"(PIL.Image.MAX_IMAGE_PIXELS), first: {too_large[0]}; downscale them, or raise that "
                      "limit if you trust the files", DataWarning, stacklevel=2)
    if not arrays:
        detail = f"{len(unreadable)} unreadable" if unreadable else ""
        if too_large:
            detail += (", " if detail else "") + (f"{len(too_large)} over the decompression-bomb limit of "
                                                  f"{Image.MAX_IMAGE_PIXELS} pixels")
        raise ImageFolderError(f"none of the {len(files)} files in {root} could be read ({detail}); "
                               "see the warnings above for the first file of each kind")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def split_count(n: int, test_fraction: float) -> int:
    """How many of ``n`` images :func:`split_folder` puts in the test part (at least 1)."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    return max(1, int(round(n * test_fraction)))


def split_folder(images: torch.Tensor, test_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Deterministic train/test split of a user image set (by image: one file is one source)."""
    n_test = split_count(len(images), test_fraction)
    if n_test >= len(images):
        raise ImageFolderError(f"only {len(images)} image(s): too few to split into train and test")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
    return images[order[n_test:]], images[order[:n_test]]
