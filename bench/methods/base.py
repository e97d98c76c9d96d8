"""The fingerprinting-method protocol: what fpbench needs from any scheme to measure it.

A method has an ``id``, ``n_bits``, ``resolution`` and a ``config`` (plain, hashable values: it goes into
every cache key), and

- ``fit(images, *, seed, progress)``: learns what it needs from uint8 ``N x 3 x R x R`` images (a no-op for
  a classical scheme);
- ``embed(images, fingerprints)``: stamps one bit string (``n_bits``) or one per image (``N x n_bits``) into
  uint8 or [0, 1] float ``N x 3 x R x R`` images and returns uint8 images, quantised like files on disk;
- ``decode(images)``: soft bits ``N x n_bits`` in [0, 1] for images of any size;
- ``state_dict()`` / ``load_state_dict(state)``: its learned state as tensors (saved as safetensors by
  :func:`save_method` / :func:`load_method`, never pickled).

A method may also be ``tunable``: a settable float ``strength`` within ``strength_range`` (its default as
constructed or fitted), where more strength means a larger change to the image (lower PSNR) and, usually,
more robustness. A run uses it to compare methods at one data PSNR (:mod:`fpbench.methods.fidelity`).

Matching, p-values, attribution and every metric work on decoded bits, so they stay method-independent.
``fpbench.testing.check_method`` checks a method against this contract.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors.torch import load_file, save_file

from fpbench.atomic import write_atomic
from fpbench.fingerprint.embedding import to_float, to_uint8

FORMAT = "fpbench-method-v1"


class MethodError(ValueError):
    """A method that cannot do what was asked: bad images, a fingerprint of the wrong length, a state of
    another method."""


class FingerprintMethod(ABC):
    """Base class of fingerprinting methods; subclasses set ``id`` and implement the four operations."""

    id: ClassVar[str] = ""
    learned: ClassVar[bool] = False  # True when fit() trains something (the adversary trains its own copy)
    tunable: ClassVar[bool] = False  # True: a settable float ``strength`` trades PSNR for robustness
    # the id of a method whose fitted state this one can continue from: a run that has that method fitted
    # calls ``fit(images, seed=..., progress=..., start=that_method)`` instead of training from scratch
    warm_start: ClassVar[str | None] = None
    strength_range: ClassVar[tuple[float, float]] = (1.0, 1.0)  # the strengths a tunable method accepts

    def __init__(self, n_bits: int, resolution: int) -> None:
        if isinstance(n_bits, bool) or not isinstance(n_bits, int) or n_bits < 1:
            raise MethodError(f"{self.id or type(self).__name__}: n_bits must be a positive integer, got {n_bits!r}")
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 8:
            raise MethodError(f"{self.id or type(self).__name__}: resolution must be an integer >= 8, "
                              f"got {resolution!r}")
        self.n_bits, self.resolution = n_bits, resolution

    @property
    def config(self) -> dict[str, Any]:
        """Everything that defines the method's output besides its learned state (plain values)."""
        return {"id": self.id, "n_bits": self.n_bits, "resolution": self.resolution}

    def fit(self, images: torch.Tensor, *, seed: int = 0, progress: bool = False) -> FingerprintMethod:
        """Learn what the method needs from uint8 images (classical schemes: nothing)."""
        self.check_images(images, exact=True)
        return self

    @abstractmethod
    def embed(self, images: torch.Tensor, fingerprints: torch.Tensor) -> torch.Tensor: ...

    @abstractmethod
    def decode(self, images: torch.Tensor) -> torch.Tensor: ...

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {}

    def load_state_dict(self, state: Mapping[str, torch.Tensor]) -> None:
        if state:
            raise MethodError(f"{self.id}: has no learned state, got {sorted(state)[:3]}")

    # -- helpers for implementations ---------------------------------------------------------------

    def check_images(self, images: object, *, exact: bool) -> torch.Tensor:
        """``images`` as float [0, 1] ``N x 3 x H x W`` (``exact``: H = W = resolution), or a MethodError."""
        if not isinstance(images, torch.Tensor):
            raise MethodError(f"{self.id}: images must be a torch tensor, got {type(images).__name__}")
        try:
            x = to_float(images)
        except ValueError as exc:
            raise MethodError(f"{self.id}: {exc}") from None
        if exact and tuple(x.shape[-2:]) != (self.resolution, self.resolution):
            raise MethodError(f"{self.id}: images must be {self.resolution}x{self.resolution}, got "
                              f"{x.shape[-2]}x{x.shape[-1]}")
        return x

    def check_fingerprints(self, fingerprints: object, n: int) -> torch.Tensor:
        """One bit string or ``n`` of them as a float ``n x n_bits`` tensor of 0s and 1s, or a MethodError."""
        if not isinstance(fingerprints, torch.Tensor):
            raise MethodError(f"{self.id}: fingerprints must be a tensor of 0s and 1s")
        f = fingerprints.float()
        if f.ndim == 1:
            f = f.expand(n, -1)
        if f.ndim != 2 or f.shape != (n, self.n_bits):
            raise MethodError(f"{self.id}: fingerprints must be {self.n_bits} bits, or {n} x {self.n_bits}, got "
                              f"shape {tuple(fingerprints.shape)}")
        if not torch.all((f == 0) | (f == 1)):
            raise MethodError(f"{self.id}: fingerprints must hold only 0s and 1s")
        return f

    def check_strength(self, value: object) -> float:
        """``value`` as a float within ``strength_range``, or a MethodError."""
        low, high = self.strength_range
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            raise MethodError(f"{self.id}: strength must be a number in [{low:g}, {high:g}], got {value!r}")
        return float(value)

    @staticmethod
    def quantise(images: torch.Tensor) -> torch.Tensor:
        """Float [0, 1] images -> uint8, as a file on disk holds them."""
        return to_uint8(images.clamp(0, 1))


def save_method(method: FingerprintMethod, path: str | Path) -> Path:
    """The method's config and learned state as one safetensors file (no pickle)."""
    state = {k: v.detach().cpu().contiguous() for k, v in method.state_dict().items()}
    meta = {"format": FORMAT, "config": json.dumps(method.config, sort_keys=True)}
    return write_atomic(path, lambda p: save_file(state, str(p), metadata=meta))


def load_method(method: FingerprintMethod, path: str | Path) -> FingerprintMethod:
    """Load the state saved by :func:`save_method` into ``method``, refusing a file of another config."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("format") != FORMAT:
        raise MethodError(f"{path} is not a saved fpbench method (format {meta.get('format')!r})")
    saved = json.loads(meta["config"])
    if saved != json.loads(json.dumps(method.config, sort_keys=True)):
        raise MethodError(f"{path} holds method {saved.get('id')!r} with config {saved}, not {method.config}")
    method.load_state_dict(load_file(str(path)))
    return method
