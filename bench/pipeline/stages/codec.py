"""A fingerprinting method as the stages use it: the ``method`` column, the cache key of its trained state,
how it stamps and how it decodes. The paper's method keeps its own path (cached networks, each stamped set
calibrated to the target PSNR, ``fpbench.pipeline.stages.fingerprint``); every other method goes through the
method protocol (``fpbench.methods``): fitted on the training photos, its state cached as safetensors, and,
when it is tunable and the run has a target PSNR, turned to the strength at which the run's stamped test
photos land on that target (``fpbench.methods.fidelity``): one strength per method and seed, used for every
set it stamps and every image it decodes, as a publisher would. The method at its own default strength is
kept beside it (``<id>@default``) for the data-level rows."""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from fpbench.cache import derive_key
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import decode
from fpbench.fingerprint.nets import FingerprintDecoder
from fpbench.methods import FingerprintMethod, get_method_factory, load_method, make_method, save_method
from fpbench.methods.base import MethodError
from fpbench.methods.fidelity import match_psnr
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.warnings import FpbenchWarning

PAPER = "artificial_fingerprint"  # the primary method: the full zoo, baselines and adaptive attacks
VERSION = 1  # of fitting and caching a protocol method
DEFAULT_SUFFIX = "@default"  # the ``method`` of a tunable method's rows at its own default strength
MATCH_VERSION = 1  # of matching a method's strength to the target PSNR
# a method whose own default stamps within this many dB of the matched point gets no ``@default`` rows (a
# learned method calibrated to the same target on other photos lands ~1 dB off: the same operating point)
DEFAULT_GAP = 1.5


@dataclass(frozen=True)
class Codec:
    method: str  # the results' ``method`` column
    key: str  # the cache key of its trained state (``ctx.lineage["fingerprint"]``)
    stamp: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (uint8 images, bits) -> uint8 images
    soft_bits: Callable[[torch.Tensor], torch.Tensor]  # images -> N x n_bits in [0, 1]
    models: FingerprintModels | None = None  # the paper's networks (adaptive attacks, baselines' open world)
    instance: FingerprintMethod | None = None  # a protocol method's object (None: the paper's path)
    strength: float | None = None  # the strength it stamps and decodes at (None: its own)

    def decode(self, images: torch.Tensor) -> torch.Tensor:
        """Decoded bits {0, 1} (float N x n_bits) of images of any size."""
        return hard_bits(self.soft_bits(images))


@dataclass(frozen=True)
class PortableDecoder:
    """What a codec decodes with, as plain values another process (a Ray task) rebuilds it from
    (:func:`rebuild_decode`): the paper's decoder network (``method`` None) or a protocol method (its spec,
    options and config), its learned state and the strength it decodes at. Same weights, same bits."""

    n_bits: int
    resolution: int
    state: dict[str, torch.Tensor]
    method: str | None = None  # a method spec for make_method; None: the paper's FingerprintDecoder
    options: dict = field(default_factory=dict)
    config: dict | None = None  # the method's config, checked against the rebuilt one
    strength: float | None = None


def hard_bits(soft: torch.Tensor) -> torch.Tensor:
    """Soft bits in [0, 1] -> bits {0, 1} (a bit is 1 above 0.5)."""
    return (soft > 0.5).float()


def cpu_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict detached and on the CPU: plain tensors another process can rebuild a network from."""
    return {k: v.detach().cpu() for k, v in state.items()}


def portable_decoder(ctx: RunContext, codec: Codec) -> PortableDecoder | None:
    """``codec``'s decoding as a :class:`PortableDecoder`, or None for a codec made by hand (neither the
    paper's networks nor a protocol method: it decodes only where it is)."""
    if codec.instance is None:
        if codec.models is None:
            return None
        decoder = codec.models.decoder
        return PortableDecoder(decoder.n_bits, decoder.resolution, cpu_state(decoder.state_dict()))
    method, method_id = codec.instance, codec.method.removesuffix(DEFAULT_SUFFIX)
    return PortableDecoder(method.n_bits, method.resolution, cpu_state(method.state_dict()), method_id,
                           method_options(ctx, method_id), method.config, codec.strength)


def rebuild_decode(portable: PortableDecoder, device: str = "cpu") -> Callable[[torch.Tensor], torch.Tensor]:
    """:meth:`Codec.decode` of the codec ``portable`` was taken from: images -> decoded bits {0, 1}."""
    if portable.method is None:
        decoder = FingerprintDecoder(portable.n_bits, portable.resolution)
        decoder.load_state_dict(portable.state)

        def soft_bits(images: torch.Tensor) -> torch.Tensor:
            return decode(decoder, images, device=device)
    else:
        method = make_method(portable.method, n_bits=portable.n_bits, resolution=portable.resolution,
                             **portable.options)
        if json.dumps(method.config, sort_keys=True) != json.dumps(portable.config, sort_keys=True):
            raise MethodError(f"method {portable.method!r} rebuilt here has config {method.config}, not the "
                              f"driver's {portable.config}: is the same fpbench (and plug-in) installed here?")
        method.load_state_dict(portable.state)
        soft_bits = method.decode
        if portable.strength is not None:
            soft_bits = _codec_at(method, portable.method, "", portable.strength).soft_bits
    return lambda images: hard_bits(soft_bits(images))


def paper_codec(ctx: RunContext, models: FingerprintModels, key: str) -> Codec:
    from fpbench.pipeline.stages.fingerprint import stamp

    def soft_bits(images: torch.Tensor) -> torch.Tensor:
        return decode(models.decoder, images, device=ctx.device)  # already {0, 1}

    return Codec(PAPER, key, lambda images, bits: stamp(ctx, models, images, bits), soft_bits, models)


def method_options(ctx: RunContext, method_id: str) -> dict:
    """A learned method trains with the run's ``fingerprint`` config (its schedule, seed and target PSNR);
    a classical one with its defaults."""
    if not getattr(get_method_factory(method_id), "learned", False):
        return {}
    cfg = ctx.preset.fingerprint
    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
            if f.name not in ("n_bits", "resolution", "perturbations", "immunise_steps")}


def method_codec(ctx: RunContext, real: RealImages, method_id: str,
                 primary: Codec | None = None) -> tuple[Codec, Codec | None]:
    """Fit (or load from the cache) ``method_id`` on the training photos; sets ``ctx.lineage["fingerprint"]``.
    A method whose ``warm_start`` is the paper's continues from ``primary``'s networks where their training
    config is the one it starts from. Returns its codec (at the run's target PSNR where it is tunable) and,
    when that moved its strength, the codec at its own default strength (None otherwise)."""
    p = ctx.preset
    method = make_method(method_id, n_bits=p.n_bits, resolution=p.resolution, **method_options(ctx, method_id))
    start = _warm_start(ctx, method, primary)
    inputs = {"data": real.key} | ({"start": primary.key} if start is not None else {})
    key = derive_key("method", VERSION, method.config, **inputs)
    ctx.lineage["fingerprint"] = key
    path = ctx.cache.file("method", key, "safetensors")
    if ctx.cache.enabled and path.exists():
        ctx.cache.hits.append(f"method/{key}")
        load_method(method, path)
    else:
        ctx.cache.misses.append(f"method/{key}")
        how = f"continuing from {start.id}'s networks" if start is not None else "from scratch"
        ctx.log(f"fitting method {method_id} on {len(real.train)} training photos ({how})")
        if start is not None:
            method.fit(real.train, seed=0, progress=ctx.progress, start=start)
        else:
            method.fit(real.train, seed=0, progress=ctx.progress)
        if ctx.cache.enabled:
            save_method(method, path)
    target = p.fingerprint.target_psnr
    if target is None or not method.tunable:
        return Codec(method_id, key, method.embed, method.decode, instance=method), None
    from fpbench.pipeline.stages.fingerprint import data_fingerprint

    match = match_psnr(method, real.test, data_fingerprint(p), target)
    ctx.notes.setdefault("method_strength", {}).setdefault(method_id, {})[str(p.seed)] = {
        "target_psnr": target, "strength": match.strength, "psnr": match.psnr,
        "default_strength": match.default_strength, "default_psnr": match.default_psnr}
    if not match.reached:
        warnings.warn(f"method {method_id} cannot reach the target PSNR of {target} dB within its strengths "
                      f"{method.strength_range}: compared at {match.psnr:.2f} dB (strength {match.strength:.4g})",
                      FpbenchWarning, stacklevel=2)
    ctx.log(f"{method_id}: strength {match.strength:.4g} for {target} dB on the test photos "
            f"(own default {match.default_strength:.4g}: {match.default_psnr:.2f} dB)")
    matched_key = derive_key("matched", MATCH_VERSION, {"strength": match.strength}, method=key)
    ctx.lineage["fingerprint"] = matched_key
    matched = _codec_at(method, method_id, matched_key, match.strength)
    if abs(match.default_psnr - match.psnr) < DEFAULT_GAP:
        return matched, None
    default = _codec_at(method, method_id + DEFAULT_SUFFIX, key, match.default_strength)
    return matched, default


def _warm_start(ctx: RunContext, method: FingerprintMethod, primary: Codec | None) -> FingerprintMethod | None:
    """The paper's fitted networks as a method ``method`` can continue from, or None (no warm start declared,
    no primary networks, or trained with another config than the one it starts from)."""
    if method.warm_start != PAPER or primary is None or primary.models is None:
        return None
    paper = make_method(PAPER, n_bits=ctx.preset.n_bits, resolution=ctx.preset.resolution,
                        **method_options(ctx, PAPER))
    if paper.train_config != getattr(method, "clean_config", None):
        return None
    paper.models, paper.fitted = primary.models, True
    return paper


def _codec_at(method: FingerprintMethod, label: str, key: str, strength: float) -> Codec:
    """A codec of ``method`` that stamps and decodes at ``strength`` (set for each call, restored after)."""
    def at_strength(operation: Callable) -> Callable:
        def call(*args: torch.Tensor) -> torch.Tensor:
            previous = method.strength
            method.strength = strength
            try:
                return operation(*args)
            finally:
                method.strength = previous
        return call

    return Codec(label, key, at_strength(method.embed), at_strength(method.decode), instance=method,
                 strength=strength)
