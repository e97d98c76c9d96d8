"""The generator-architecture vocabulary: ``GENERATORS`` maps an architecture id to a factory.

A factory is ``(resolution, latent_dim, width) -> (G, D)``:

- ``G(z)``: z is ``B x latent_dim`` float; returns ``B x 3 x R x R`` float in [0, 1]. G carries
  ``G.latent_dim`` and ``G.resolution`` so samplers need no extra arguments.
- ``D(x)``: x is ``B x 3 x R x R`` float in [0, 1]; returns ``B`` real-valued logits (higher = "real").

>>> G, D = GENERATORS.get("dcgan")(32, 64, 16)
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from fpbench.registry import Registry

GeneratorFactory = Callable[[int, int, int], tuple[nn.Module, nn.Module]]

GENERATORS: Registry[GeneratorFactory] = Registry("generator architecture")


def check_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is a power of two >= 16, else raise ValueError."""
    if isinstance(resolution, bool) or not isinstance(resolution, int):
        raise ValueError(f"resolution must be an int, got {resolution!r}")
    if resolution < 16 or resolution & (resolution - 1):
        raise ValueError(f"resolution must be a power of two >= 16, got {resolution}")
    return resolution


def channels_at(width: int, resolution: int, size: int) -> int:
    """Channels of a feature map of side ``size`` in a net for ``resolution``: ``width`` at the two
    finest levels, doubling per coarser level, capped at ``8 * width`` (the DCGAN schedule)."""
    return width * max(1, min(8, resolution // (2 * size)))


def build(arch: str, resolution: int, latent_dim: int, width: int, discriminator: str = "",
          ) -> tuple[nn.Module, nn.Module]:
    """Build ``(G, D)`` for a registered architecture id, after checking the arguments.

    ``discriminator``: take D from this architecture instead of ``arch`` ("" = ``arch``'s own). Whether a
    fingerprint transfers depends on D: G only learns what D can tell apart (docs/transfer.md, "What moves transfer").
    """
    factory = GENERATORS.get(arch)
    d_factory = GENERATORS.get(discriminator) if discriminator else None
    check_resolution(resolution)
    for name, value in (("latent_dim", latent_dim), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    G, D = factory(resolution, latent_dim, width)
    if d_factory is not None and discriminator != arch:
        D = d_factory(resolution, latent_dim, width)[1]
    return G, D
