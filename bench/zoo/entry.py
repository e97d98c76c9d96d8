"""``ModelEntry``: one external model from its card, with a uniform ``sample(n, seed)``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import nn

from fpbench.generators.sampling import sample as sample_generator
from fpbench.zoo.card import ModelCard, ModelCardError, load_card
from fpbench.zoo.sources import describe_failure, import_callable, list_images, load_images

Sampler = Callable[[int, int], torch.Tensor]
T = TypeVar("T")


def _where(card: ModelCard) -> str:
    return f"model card {card.path}" if card.path is not None else f"model {card.id!r}"


def _run_card_code(card: ModelCard, doing: str, call: Callable[[], T]) -> T:
    """Run code a card names. Whatever it raises, ``sys.exit`` included, becomes a
    :class:`ModelCardError` naming the card and the callable; Ctrl-C (KeyboardInterrupt) still stops."""
    try:
        return call()
    except (Exception, SystemExit) as exc:
        raise ModelCardError(f"{_where(card)}: callable {card.callable!r} raised {describe_failure(exc)} "
                             f"while {doing}; fix the function or point the card at another") from exc


@dataclass(eq=False)
class ModelEntry:
    """A model from the zoo. ``sample(n, seed)`` -> float ``n x 3 x R x R`` in [0, 1], deterministic
    in ``seed``. ``generator`` is the ``nn.Module`` (needed by model attacks); folder and plain-sampler
    models have none and raise a clear error instead."""

    card: ModelCard
    _module: nn.Module | None = None
    _sampler: Sampler | None = None
    _images: torch.Tensor | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def fingerprint(self) -> str:
        return self.card.fingerprint

    @property
    def has_generator(self) -> bool:
        return self._module is not None

    @property
    def generator(self) -> nn.Module:
        if self._module is None:
            kind = "an image folder" if self.card.folder is not None else "a sampler function"
            raise ModelCardError(f"model {self.id!r} comes from {kind}; model attacks need a callable "
                                 "generator (a 'callable' card whose function returns an nn.Module)")
        return self._module

    def images(self) -> torch.Tensor:
        """All images of a folder model (loaded once)."""
        if self.card.folder is None:
            raise ModelCardError(f"model {self.id!r} has no image folder")
        if self._images is None:
            self._images = load_images(list_images(self.card.folder), self.card.resolution)
        return self._images

    def sample(self, n: int, seed: int) -> torch.Tensor:
        """``n`` images. Folder models: a seeded subset without replacement (error if the folder
        holds fewer than ``n``). Generators: :func:`fpbench.generators.sample`. Samplers: called as is."""
        if self.card.folder is not None:
            images = self.images()
            if n > len(images):
                raise ModelCardError(f"model {self.id!r}: asked for {n} images, folder {self.card.folder} "
                                     f"holds {len(images)}")
            idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(int(seed)))[:n]
            return images[idx.sort().values]
        if self._module is not None:
            module = self._module
            out = _run_card_code(self.card, f"generating {n} images",
                                 lambda: sample_generator(module, n, seed=seed))
        else:
            sampler = self._sampler
            out = _run_card_code(self.card, f"sampling {n} images", lambda: sampler(n, seed))
        return self._check_output(out, n)

    def _check_output(self, out: object, n: int) -> torch.Tensor:
        r = self.card.resolution
        if not isinstance(out, torch.Tensor) or not out.is_floating_point():
            raise ModelCardError(f"model {self.id!r} returned {type(out).__name__}, expected a float tensor")
        if tuple(out.shape) != (n, 3, r, r):
            raise ModelCardError(f"model {self.id!r} returned shape {tuple(out.shape)}, expected {(n, 3, r, r)}")
        finite = torch.isfinite(out)
        if not bool(finite.all()):
            raise ModelCardError(
                f"model {self.id!r} ({_where(self.card)}, callable {self.card.callable!r}) returned "
                f"{int((~finite).sum())} NaN/inf value(s) among {out.numel()}; images must be finite values "
                "in [0, 1] (a NaN would silently become black when converted to 8 bits)")
        lo, hi = float(out.min()), float(out.max())
        if lo < -1e-3 or hi > 1 + 1e-3:
            raise ModelCardError(f"model {self.id!r} returned values in [{lo:.3g}, {hi:.3g}], expected [0, 1]")
        return out.detach().float().cpu().clamp(0, 1)


def entry_from_card(card: ModelCard) -> ModelEntry:
    if card.folder is not None:
        list_images(card.folder)  # fail now on a bad or empty folder
        return ModelEntry(card)
    factory = import_callable(card.callable, where=_where(card))
    made = _run_card_code(card, "making the model", factory)
    if isinstance(made, nn.Module):
        if not isinstance(getattr(made, "latent_dim", None), int):
            raise ModelCardError(f"callable {card.callable!r} returned {type(made).__name__} without an "
                                 "int `latent_dim` attribute; set one, or return a sampler (n, seed) -> images")
        return ModelEntry(card, _module=made.eval())
    if callable(made):
        return ModelEntry(card, _sampler=made)
    raise ModelCardError(f"callable {card.callable!r} returned {type(made).__name__}; expected an nn.Module "
                         "generator or a sampler (n, seed) -> images")


def load_model(path: str | os.PathLike[str], *, decoder_n_bits: int | None = None) -> ModelEntry:
    """Load a model card and its source; every problem raises :class:`ModelCardError`.

    >>> entry = load_model("zoo/stylegan2.yaml", decoder_n_bits=100)  # doctest: +SKIP
    >>> entry.sample(16, seed=0).shape  # doctest: +SKIP
    torch.Size([16, 3, 128, 128])
    """
    return entry_from_card(load_card(path, decoder_n_bits=decoder_n_bits))
