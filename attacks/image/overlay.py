"""Text overlay: a seeded random caption drawn over each image with PIL's default font."""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont, features

from fpbench.attacks.image._checks import check_images, image_generator
from fpbench.attacks.registry import register_attack
from fpbench.pil_codec import map_chunks

ALPHABET = string.ascii_uppercase + string.digits
TEXT_LENGTH = 6
STROKE_PER_PIXEL = 1 / 12  # outline width per pixel of font size (at least 1 pixel)


@dataclass(frozen=True)
class TextLayout:
    """What is drawn on one image: ``text`` at ``xy`` (PIL's left-ascender anchor), ``font_size`` pixels,
    outlined ``stroke_width`` pixels wide."""

    text: str
    xy: tuple[int, int]
    font_size: int
    stroke_width: int


@lru_cache(maxsize=64)
def default_font(size: int) -> ImageFont.FreeTypeFont:
    """PIL's built-in scalable font (Aileron Regular, ``ImageFont.load_default(size)``); needs FreeType."""
    if not features.check("freetype2"):
        raise RuntimeError("overlay_text: this Pillow build has no FreeType support "
                           "(PIL.features.check('freetype2') is False), which the default font needs")
    return ImageFont.load_default(size)


def text_layout(h: int, w: int, text_height: float, seed: int, index: int) -> TextLayout | None:
    """The caption of image ``index`` of an HxW batch attacked with ``seed``, or None if its font size
    ``round(text_height * h)`` is under one pixel.

    From the image's own generator: :data:`TEXT_LENGTH` characters uniform over :data:`ALPHABET`, then
    the position, uniform over those that keep the outlined text inside the image (flush left / top
    and cut off on the far side when it is larger than the image)."""
    size = round(text_height * h)
    if size < 1:
        return None
    g = image_generator(seed, index)
    text = "".join(ALPHABET[int(i)] for i in torch.randint(len(ALPHABET), (TEXT_LENGTH,), generator=g))
    stroke = max(1, round(size * STROKE_PER_PIXEL))
    left, top, right, bottom = default_font(size).getbbox(text, stroke_width=stroke)
    x = int(torch.randint(-left, max(-left, w - right) + 1, (1,), generator=g))
    y = int(torch.randint(-top, max(-top, h - bottom) + 1, (1,), generator=g))
    return TextLayout(text, (x, y), size, stroke)


def text_coverages(layout: TextLayout, h: int, w: int) -> np.ndarray:
    """2xHxW uint8 coverages of the outlined text (glyphs plus outline) and of the glyphs alone, as PIL's
    antialiased rasteriser draws them."""
    font = default_font(layout.font_size)
    outlined, glyphs = Image.new("L", (w, h), 0), Image.new("L", (w, h), 0)
    ImageDraw.Draw(outlined).text(layout.xy, layout.text, fill=255, font=font,
                                  stroke_width=layout.stroke_width, stroke_fill=255)
    ImageDraw.Draw(glyphs).text(layout.xy, layout.text, fill=255, font=font)
    return np.stack([np.asarray(outlined), np.asarray(glyphs)])


def text_alphas(layout: TextLayout, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """HxW float32 coverages in [0,1] of the outlined text and of the glyphs (:func:`text_coverages`)."""
    outlined, glyphs = text_coverages(layout, h, w).astype(np.float32) / 255
    return outlined, glyphs


def _coverages_chunk(layouts: list[TextLayout], h: int, w: int) -> np.ndarray:
    return np.stack([text_coverages(lay, h, w) for lay in layouts]) if layouts else np.zeros((0, 2, h, w), np.uint8)


@register_attack(
    "overlay_text", kind="image", param="text_height", unit="font size, fraction of the image height",
    grid=(0.0, 0.05, 0.1, 0.15, 0.2, 0.25), neutral=0.0, domain=(0.0, 1.0), category="occlusion",
    version=1, differentiable=True,
)
def overlay_text(images: torch.Tensor, text_height: float = 0.1, *, seed: int = 0) -> torch.Tensor:
    """Draw a random 6-character caption (A-Z, 0-9) in white with a black outline over each image.

    ``images``: Bx3xHxW float in [0,1]. The font is PIL's built-in Aileron at ``round(text_height*H)``
    pixels with an outline of ``max(1, round(size/12))`` pixels; text and position come from image
    ``i``'s generator seeded by ``(seed, i)`` (:func:`text_layout`), so they do not depend on the batch
    size. The coverages PIL rasterises are composited in float (black outline, then white glyphs), so
    pixels the text does not touch keep their exact value. ``text_height=0`` (or a font size under one
    pixel) is the identity. Glyph rendering comes from the FreeType that Pillow ships with.
    """
    check_images(images, "overlay_text")
    out = images.clone()
    b, _, h, w = images.shape
    layouts = [text_layout(h, w, text_height, seed, i) for i in range(b)]
    drawn = [i for i, lay in enumerate(layouts) if lay is not None]
    if not drawn:
        return out
    # FreeType rendering holds the GIL (~0.2 ms per 32x32 caption): large batches are drawn in the PIL pool
    # the JPEG/WebP attacks share, the same bytes as the serial loop
    coverages = np.concatenate(map_chunks(_coverages_chunk, [layouts[i] for i in drawn], torch.get_num_threads(),
                                          h, w))
    # uint8 / 255 in float32 as text_alphas computes it, then the same elementwise ops for the whole batch
    alphas = (torch.from_numpy(coverages).float() / 255).to(images.device, images.dtype)
    outlined, glyphs = alphas[:, :1], alphas[:, 1:]
    index = torch.tensor(drawn, device=images.device)
    out[index] = (images[index] * (1 - outlined)) * (1 - glyphs) + glyphs
    return out
