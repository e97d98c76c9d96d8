"""overlay_text's batched, multi-process compositing against the per-image loop it replaced: the same
floats bit for bit, serially and on the PIL process pool."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from fpbench.attacks.image.overlay import default_font, overlay_text, text_layout


def _per_image_reference(images: torch.Tensor, text_height: float, seed: int) -> torch.Tensor:
    """The implementation before the speed-up: draw both coverages with ImageDraw, composite one image
    at a time."""
    out = images.clone()
    b, _, h, w = images.shape
    for i in range(b):
        layout = text_layout(h, w, text_height, seed, i)
        if layout is None:
            continue
        font = default_font(layout.font_size)
        outlined, glyphs = Image.new("L", (w, h), 0), Image.new("L", (w, h), 0)
        ImageDraw.Draw(outlined).text(layout.xy, layout.text, fill=255, font=font,
                                      stroke_width=layout.stroke_width, stroke_fill=255)
        ImageDraw.Draw(glyphs).text(layout.xy, layout.text, fill=255, font=font)
        o, g = (torch.from_numpy(np.asarray(a, dtype=np.float32) / 255).to(images.dtype) for a in (outlined, glyphs))
        out[i] = (images[i] * (1 - o)) * (1 - g) + g
    return out


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("text_height", [0.0, 0.05, 0.15, 0.25, 0.6])
@pytest.mark.parametrize("shape", [(300, 3, 32, 32), (130, 3, 20, 37)])
def test_bit_identical_to_the_per_image_loop(monkeypatch, workers, text_height, shape):
    monkeypatch.setattr(torch, "get_num_threads", lambda: workers)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(7))
    assert torch.equal(overlay_text(x, text_height, seed=5), _per_image_reference(x, text_height, 5))


@pytest.mark.parametrize("batch", [0, 1])
def test_small_batches_and_float64(batch):
    x = torch.rand(batch, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = overlay_text(x, 0.2, seed=2)
    assert got.dtype == torch.float64 and torch.equal(got, _per_image_reference(x, 0.2, 2))
