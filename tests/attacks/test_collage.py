"""collage: the batched texture path gives exactly what one image at a time gives."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.image._checks import area_box, image_generator, random_position
from fpbench.attacks.image.collage import collage, pink_texture
from fpbench.attacks.image.geometry import resize_bilinear


def _one_at_a_time(images, area, seed, donors=None):
    """The attack as its docstring states it, per image: position, then the donor, from the image's generator."""
    out = images.clone()
    b, _, h, w = images.shape
    rh, rw = area_box(h, w, area)
    if rh == 0 or rw == 0:
        return out
    for i in range(b):
        g = image_generator(seed, i)
        top, left = random_position(g, h, w, rh, rw)
        if donors is None:
            donor = pink_texture(g, h, w)
        else:
            j = int(torch.randint(0, len(donors), (1,), generator=g))
            donor = resize_bilinear(donors[j:j + 1], (h, w))[0].clamp(0.0, 1.0)
        out[i, :, top:top + rh, left:left + rw] = donor[:, top:top + rh, left:left + rw].to(out)
    return out


@pytest.mark.parametrize("shape", [(0, 3, 32, 32), (1, 3, 32, 32), (37, 3, 32, 32), (9, 3, 20, 33)])
@pytest.mark.parametrize("area", [0.0, 0.1, 0.25, 0.5])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_textures_equal_one_image_at_a_time(shape, area, dtype):
    x = torch.rand(shape, dtype=dtype, generator=torch.Generator().manual_seed(3))
    assert torch.equal(collage(x, area, seed=11), _one_at_a_time(x, area, 11))


def test_donor_pool_equals_one_image_at_a_time():
    x = torch.rand(12, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    donors = torch.rand(5, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    assert torch.equal(collage(x, 0.3, seed=4, donors=donors), _one_at_a_time(x, 0.3, 4, donors))


def test_an_image_does_not_depend_on_its_batch():
    x = torch.rand(40, 3, 32, 32, generator=torch.Generator().manual_seed(5))
    assert torch.equal(collage(x, 0.25, seed=2)[:7], collage(x[:7], 0.25, seed=2))
