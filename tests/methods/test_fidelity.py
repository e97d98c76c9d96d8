"""Matching a tunable method's strength to a target PSNR (fpbench.methods.fidelity): bisection lands within
the tolerance where the target is reachable, reports the nearest end where it is not, and leaves the method
as it found it."""

from __future__ import annotations

import pytest
import torch

from fpbench.methods import MethodError, make_method
from fpbench.methods.fidelity import REACHED, TOLERANCE, match_psnr, stamped_psnr
from fpbench.testing import make_images


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return make_images(64, 32, seed=3)


@pytest.mark.parametrize(("method_id", "target"), [("lsb", 35.0), ("dct_qim", 34.0), ("dct_qim", 42.0)])
def test_the_matched_strength_stamps_at_the_target(images: torch.Tensor, method_id: str, target: float):
    method = make_method(method_id, n_bits=48, resolution=32)
    bits = torch.randint(0, 2, (48,), generator=torch.Generator().manual_seed(0))
    before = method.embed(images, bits)
    match = match_psnr(method, images, bits, target)
    assert match.reached and abs(match.psnr - target) <= REACHED
    # an independent measurement at the returned strength (PSNR of the uint8 files) agrees
    method.strength = match.strength
    assert stamped_psnr(method, images, bits, match.strength) == pytest.approx(match.psnr, abs=1e-9)
    method.strength = match.default_strength
    assert match.default_strength == 1.0 and torch.equal(method.embed(images, bits), before)
    assert TOLERANCE <= REACHED


def test_an_unreachable_target_returns_the_nearest_end(images: torch.Tensor):
    """LSB cannot be less visible than classical LSB (~51 dB): a 70 dB target gets strength 1, not reached."""
    method = make_method("lsb", n_bits=48, resolution=32)
    bits = torch.ones(48)
    match = match_psnr(method, images, bits, 70.0)
    assert not match.reached and match.strength == method.strength_range[0]
    assert match.psnr == pytest.approx(match.default_psnr) and 48 < match.psnr < 55


def test_an_untunable_method_or_a_bad_target_is_refused(images: torch.Tensor):
    class Fixed(type(make_method("lsb", n_bits=8, resolution=16))):
        tunable = False

    with pytest.raises(MethodError, match="no strength"):
        match_psnr(Fixed(8, 16), images[:, :, :16, :16], torch.ones(8), 40.0)
    with pytest.raises(MethodError, match="between 10 and 80"):
        match_psnr(make_method("lsb", n_bits=8, resolution=16), images[:, :, :16, :16], torch.ones(8), 5.0)
