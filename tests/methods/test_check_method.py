"""fpbench.testing.check_method: every registered method passes it, and each deliberately broken toy method
fails it with a message naming the check and the problem."""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from fpbench.fingerprint.training import TrainingWarning
from fpbench.methods import FingerprintMethod, MethodError, all_methods
from fpbench.testing import CHECKS, MethodCheckError, check_method, make_images
from fpbench.warnings import FpbenchWarning

# Options that keep a learned method's fit to a few steps; the paper's method also skips checkpointing.
FAST = {"artificial_fingerprint": {"steps": 3, "checkpoint_every": 0}}


def _accepts(factory: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def fast_factory(method_id: str, factory: Callable[..., Any]) -> Callable[..., Any]:
    """The factory with the options that keep fit fast: known ones for the built-in learned method,
    ``steps=3`` for any other learned method whose factory takes ``steps``, none for classical ones."""
    if method_id in FAST:
        return functools.partial(factory, **FAST[method_id])
    if getattr(factory, "learned", False) and _accepts(factory, "steps"):
        return functools.partial(factory, steps=3)
    return factory


@pytest.mark.parametrize("method_id", all_methods().ids())
def test_every_registered_method_passes(method_id: str) -> None:
    factory = fast_factory(method_id, all_methods().get(method_id))
    with warnings.catch_warnings():  # a few training steps are expected to warn that training did not converge
        warnings.simplefilter("ignore", TrainingWarning)
        warnings.simplefilter("ignore", FpbenchWarning)
        report = check_method(factory, n_bits=16, resolution=16)
    assert report == dict.fromkeys(CHECKS, "ok")


# -- toy methods -----------------------------------------------------------------------------------------


class Toy(FingerprintMethod):
    """A correct toy: a key-seeded ±1 pattern per bit, added at 4 grey levels and read back by correlation."""

    id = "toy"

    def __init__(self, n_bits: int, resolution: int, key: int = 0) -> None:
        super().__init__(n_bits, resolution)
        self.key = key
        gen = torch.Generator().manual_seed(key)
        self.pattern = torch.randint(0, 2, (n_bits, 3, resolution, resolution), generator=gen).float() * 2 - 1

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "key": self.key}

    def delta(self, bits: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nb,bchw->nchw", bits * 2 - 1, self.pattern) * (4 / 255) / self.n_bits ** 0.5

    def embed(self, images: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=True)
        return self.quantise(x + self.delta(self.check_fingerprints(fingerprints, len(x))))

    def centred(self, images: torch.Tensor) -> torch.Tensor:
        x = self.check_images(images, exact=False)
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution,) * 2, mode="bilinear", align_corners=False, antialias=True)
        return x - x.mean(dim=(1, 2, 3), keepdim=True)

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nchw,bchw->nb", self.centred(images), self.pattern) * 0.5

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logits(images))


def test_a_correct_toy_passes_and_checks_can_be_chosen() -> None:
    assert check_method(Toy) == dict.fromkeys(CHECKS, "ok")
    assert check_method(Toy, checks=["embed", "errors"]) == {"embed": "ok", "errors": "ok"}
    assert check_method(functools.partial(Toy, key=3), n_bits=5, resolution=24,
                        fit_images=make_images(4, 24)) == dict.fromkeys(CHECKS, "ok")
    with pytest.raises(ValueError, match=r"unknown check\(s\) 'embedd'.*Did you mean 'embed'"):
        check_method(Toy, checks=["embedd"])
    with pytest.raises(ValueError, match="fit_images must be a uint8 N x 3 x 16 x 16 tensor"):
        check_method(Toy, fit_images=make_images(4, 16).float())


def test_make_images_is_smooth_uint8_and_leaves_the_global_rng_alone() -> None:
    state = torch.random.get_rng_state()
    x = make_images(8, 16, seed=1)
    assert torch.equal(state, torch.random.get_rng_state())
    assert x.dtype == torch.uint8 and x.shape == (8, 3, 16, 16)
    assert torch.equal(x, make_images(8, 16, seed=1)) and not torch.equal(x, make_images(8, 16, seed=2))


class FloatEmbed(Toy):
    id = "toy_float_embed"

    def embed(self, images, fingerprints):
        x = self.check_images(images, exact=True)
        return (x + self.delta(self.check_fingerprints(fingerprints, len(x)))).clamp(0, 1)


class LogitDecode(Toy):
    id = "toy_logit_decode"

    def decode(self, images):
        return self.logits(images)


class NoisyDecode(Toy):
    id = "toy_noisy_decode"

    def decode(self, images):
        return torch.sigmoid(self.logits(images) + 0.01 * torch.rand(len(images), self.n_bits))


class BatchMeanDecode(Toy):
    id = "toy_batch_mean_decode"

    def decode(self, images):
        x = self.centred(images)
        x = x - x.mean(dim=0, keepdim=True)  # normalises by the batch mean: depends on the other images
        return torch.sigmoid(torch.einsum("nchw,bchw->nb", x, self.pattern) * 0.5)


class UnsavedState(Toy):
    """Learns a per-bit offset in fit, but neither saves nor loads it."""

    id = "toy_unsaved_state"
    learned = True

    def __init__(self, n_bits, resolution, **kwargs):
        super().__init__(n_bits, resolution, **kwargs)
        self.offset = torch.zeros(n_bits)

    def fit(self, images, *, seed=0, progress=False):
        x = self.check_images(images, exact=True)
        self.offset = -self.logits(x).mean(dim=0)
        return self

    def decode(self, images):
        return torch.sigmoid(self.logits(images) + self.offset)


class KeyErrorOnBadFingerprint(Toy):
    id = "toy_key_error"

    def embed(self, images, fingerprints):
        x = self.check_images(images, exact=True)
        codes = {(self.n_bits,): "one", (len(x), self.n_bits): "rows"}
        codes[tuple(fingerprints.shape)]  # noqa: B018  (a lookup that raises KeyError for a bad shape)
        return super().embed(images, fingerprints)


class InPlaceEmbed(Toy):
    id = "toy_in_place"

    def embed(self, images, fingerprints):
        x = self.check_images(images, exact=True)  # the caller's own tensor when it is float32
        x += self.delta(self.check_fingerprints(fingerprints, len(x)))
        return self.quantise(x)


class SilentChannels(Toy):
    """Takes any channel count: no validation of the images in decode."""

    id = "toy_silent_channels"

    def decode(self, images):
        x = images.float() / 255 if isinstance(images, torch.Tensor) and images.dtype == torch.uint8 else images
        if isinstance(x, torch.Tensor) and x.shape[1] != 3:
            x = x.expand(-1, 3, -1, -1)
        return super().decode(x)


class TensorInConfig(Toy):
    id = "toy_tensor_config"

    @property
    def config(self) -> Mapping[str, Any]:
        return {**super().config, "pattern_sum": self.pattern.sum()}


class UnstableConfig(Toy):
    id = "toy_unstable_config"
    made = 0

    @property
    def config(self) -> dict[str, Any]:
        return {**super().config, "instance": self.number}

    def __init__(self, n_bits, resolution):
        super().__init__(n_bits, resolution)
        UnstableConfig.made += 1
        self.number = UnstableConfig.made


class IgnoresNBits(Toy):
    id = "toy_ignores_n_bits"

    def __init__(self, n_bits, resolution):
        super().__init__(8, resolution)


class NoId(Toy):
    id = ""


class WrongShapeEmbed(Toy):
    id = "toy_crops"

    def embed(self, images, fingerprints):
        return super().embed(images, fingerprints)[..., 1:, 1:]


class NanDecode(Toy):
    id = "toy_nan_decode"

    def decode(self, images):
        out = super().decode(images)
        out[:, 0] = float("nan")
        return out


class ExactSizeDecode(Toy):
    id = "toy_exact_size_decode"

    def decode(self, images):
        self.check_images(images, exact=True)
        return super().decode(images)


class TunableToy(Toy):
    """A correct tunable toy: strength multiplies the pattern's amplitude."""

    id = "toy_tunable"
    tunable = True
    strength_range = (0.5, 4.0)

    def __init__(self, n_bits: int, resolution: int, key: int = 0) -> None:
        super().__init__(n_bits, resolution, key)
        self._strength = 1.0

    @property
    def strength(self) -> float:
        return self._strength

    @strength.setter
    def strength(self, value: float) -> None:
        self._strength = self.check_strength(value)

    def delta(self, bits: torch.Tensor) -> torch.Tensor:
        return super().delta(bits) * self.strength


class UncheckedStrength(TunableToy):
    id = "toy_unchecked_strength"

    @TunableToy.strength.setter
    def strength(self, value: float) -> None:
        self._strength = float(value)


class InvertedStrength(TunableToy):
    id = "toy_inverted_strength"

    def delta(self, bits: torch.Tensor) -> torch.Tensor:
        return Toy.delta(self, bits) / self.strength


def test_a_correct_tunable_toy_passes() -> None:
    assert check_method(TunableToy) == dict.fromkeys(CHECKS, "ok")


BROKEN = [
    (UncheckedStrength, r"\[strength\] .*setting strength = 8 \(outside \(0\.5, 4\.0\)\) was accepted silently"),
    (InvertedStrength, r"\[strength\] .*the strongest end \(4\) stamps at [\d.]+ dB, above the weakest \(0\.5\)"),
    (FloatEmbed, r"\[embed\] method 'toy_float_embed' \(FloatEmbed\): embed\(uint8 images, N x n_bits\) returned "
                 r"dtype torch\.float32, expected torch\.uint8\. Fix: quantise"),
    (LogitDecode, r"\[decode\] method 'toy_logit_decode' .*decode\(N embedded images\) returned values in "
                  r"\[-?[\d.]+, [\d.]+\], outside \[0, 1\]\. Fix: return probabilities"),
    (NoisyDecode, r"\[determinism\] .*decode is not deterministic: the same call twice gives soft bits up to "
                  r"[\d.e-]+ apart\. Fix: draw any randomness from a torch\.Generator"),
    (BatchMeanDecode, r"\[batch_independence\] .*decode depends on the batch: 8 images decoded together and one "
                      r"by one give soft bits up to [\d.e-]+ apart"),
    (UnsavedState, r"\[save_load\] method 'toy_unsaved_state' .*save_method / load_method changes decode: .*"
                   r"Fix: return every learned tensor from state_dict\(\)"),
    (KeyErrorOnBadFingerprint, r"\[errors\] .*embed with a fingerprint of 17 bits \(n_bits is 16\) raised "
                               r"KeyError\('\(17,\)'\) instead of fpbench\.methods\.MethodError \(a ValueError\)\. "
                               r"Fix: validate inputs with self\.check_images"),
    (InPlaceEmbed, r"\[embed\] .*embed \(float images\) modified its input in place\. Fix: work on a copy"),
    (SilentChannels, r"\[errors\] .*decode with 1-channel images \(N x 1 x R x R\) was accepted silently "
                     r"\(returned \(8, 16\)\) instead of raising fpbench\.methods\.MethodError"),
    (TensorInConfig, r"\[config\] .*config\['pattern_sum'\] is a torch\.Tensor \(.*\), not a plain JSON value"),
    (UnstableConfig, r"\[config\] .*two instances made alike have different configs: .*\"instance\": \d+.* vs "),
    (IgnoresNBits, r"\[protocol\] method 'toy_ignores_n_bits' .*: n_bits is 8, but the factory was asked for "
                   r"n_bits=16"),
    (NoId, r"\[protocol\] factory NoId: NoId\.id is '', not a non-empty id"),
    (WrongShapeEmbed, r"\[embed\] .*returned shape \(8, 3, 15, 15\), expected \(8, 3, 16, 16\)"),
    (NanDecode, r"\[decode\] .*returned non-finite values \(NaN or inf\)"),
    (ExactSizeDecode, r"\[decode\] .*decode\(images of 32x32, another size than the resolution 16\) raised "
                      r"MethodError: toy_exact_size_decode: images must be 16x16, got 32x32"),
]


@pytest.mark.parametrize(("toy", "message"), BROKEN, ids=[toy.id or toy.__name__ for toy, _ in BROKEN])
def test_a_broken_method_fails_with_a_message_naming_the_problem(toy: type[Toy], message: str) -> None:
    with pytest.raises(MethodCheckError, match=message) as info:
        check_method(toy)
    assert isinstance(info.value, AssertionError)
    assert info.value.check in CHECKS


def test_a_failing_check_is_not_reached_when_not_chosen() -> None:
    assert check_method(NoisyDecode, checks=["embed", "decode", "errors"]) == {
        "embed": "ok", "decode": "ok", "errors": "ok"}
    with pytest.raises(MethodCheckError, match=r"\[determinism\]"):
        check_method(NoisyDecode, checks=["determinism"])


def test_a_factory_returning_something_else_fails() -> None:
    with pytest.raises(MethodCheckError, match=r"\[protocol\] factory .*<lambda>: the factory returned a dict, "
                                                r"not a FingerprintMethod"):
        check_method(lambda n_bits, resolution: {"n_bits": n_bits})
    with pytest.raises(MethodCheckError, match=r"\[protocol\] factory Toy: factory\(n_bits=16, resolution=4\) "
                                                r"raised MethodError: toy: resolution must be an integer >= 8"):
        check_method(Toy, resolution=4, fit_images=make_images(4, 4))


def test_method_errors_are_value_errors() -> None:  # the contract check_method's "errors" check relies on
    assert issubclass(MethodError, ValueError)
    with pytest.raises(MethodError, match="toy: fingerprints must be 16 bits"):
        Toy(16, 16).embed(make_images(2, 16), torch.zeros(3))
