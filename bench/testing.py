"""Check a fingerprinting method against the :class:`~fpbench.methods.FingerprintMethod` contract, in the
spirit of scikit-learn's ``check_estimator``::

    from functools import partial
    from fpbench.testing import check_method
    check_method(partial(MyMethod, steps=3))          # raises MethodCheckError naming what is wrong

It builds the method with ``factory(n_bits=..., resolution=...)``, fits it on small smooth uint8 images and
checks, in order (``CHECKS``):

- ``protocol``: a FingerprintMethod with a non-empty ``id`` and the asked ``n_bits`` / ``resolution``;
- ``config``: plain JSON values holding ``id``, ``n_bits``, ``resolution``; equal for two instances made
  alike and unchanged by ``fit``;
- ``fit``: fits on uint8 ``N x 3 x R x R`` images without modifying them;
- ``embed``: uint8 ``N x 3 x R x R`` out for uint8 and [0, 1] float input (the same images give the same
  result either way); one bit string or ``N x n_bits`` accepted; inputs left unmodified;
- ``decode``: finite float ``N x n_bits`` in [0, 1], also for ``2R x 2R`` images and for one image;
- ``determinism``: embedding and decoding twice give identical outputs;
- ``batch_independence``: a batch gives what its images give one by one;
- ``save_load``: :func:`~fpbench.methods.save_method` then :func:`~fpbench.methods.load_method` into a fresh
  instance made alike gives identical embed / decode outputs;
- ``strength`` (``tunable`` methods only): the default ``strength`` lies in ``strength_range``; the strongest
  end stamps at no higher PSNR than the weakest; going back to the default gives the same images as before;
  a strength outside the range raises :class:`~fpbench.methods.MethodError`;
- ``errors``: a fingerprint of the wrong length, a non-binary fingerprint, non-tensor images and images with
  the wrong channel count raise :class:`~fpbench.methods.MethodError` with a message, not another exception.

It knows no method by id: anything the registry can make can be checked.
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from fpbench.methods.base import FingerprintMethod, MethodError, load_method, save_method
from fpbench.metrics import psnr
from fpbench.registry import did_you_mean

__all__ = ["CHECKS", "MethodCheckError", "check_method", "make_images"]

CHECKS = ("protocol", "config", "fit", "embed", "decode", "determinism", "batch_independence", "save_load",
          "strength", "errors")

# Batched float arithmetic (a convolution over 8 images vs over 1) may differ in the last bits, so batch
# independence allows what that can cause: one grey level after quantisation, a rounding error in a soft bit.
# A batch-dependent method (normalising by the batch mean, ...) is off by far more.
EMBED_BATCH_TOLERANCE = 1  # grey levels
DECODE_BATCH_TOLERANCE = 1e-5

_VALIDATE_FIX = ("validate inputs with self.check_images(...) / self.check_fingerprints(...) of "
                 "fpbench.methods.FingerprintMethod, which raise MethodError")


class MethodCheckError(AssertionError):
    """A method that breaks the FingerprintMethod contract; ``check`` names the failed check."""

    def __init__(self, check: str, where: str, problem: str, fix: str = "") -> None:
        self.check = check
        super().__init__(f"check_method [{check}] {where}: {problem}" + (f". Fix: {fix}" if fix else ""))


def make_images(n: int = 64, resolution: int = 16, *, seed: int = 0) -> torch.Tensor:
    """``n`` smooth random uint8 ``n x 3 x R x R`` images (low-resolution noise upsampled, plus a little
    grain), from a private generator: the global torch RNG is left alone."""
    gen = torch.Generator().manual_seed(seed)
    low = torch.rand(n, 3, 4, 4, generator=gen)
    x = F.interpolate(low, size=(resolution, resolution), mode="bilinear", align_corners=False)
    x = 0.1 + 0.8 * x + 0.02 * torch.randn(x.shape, generator=gen)
    return x.clamp(0, 1).mul(255).round().to(torch.uint8)


def _bits(n: int, n_bits: int, *, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 2, (n, n_bits), generator=gen).float()


class _Checker:
    def __init__(self, factory: Callable[..., Any], n_bits: int, resolution: int) -> None:
        self.factory, self.n_bits, self.resolution = factory, n_bits, resolution
        self.where = f"factory {_name(factory)}"

    def fail(self, check: str, problem: str, fix: str = "") -> MethodCheckError:
        return MethodCheckError(check, self.where, problem, fix)

    def call(self, check: str, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, with any exception turned into a MethodCheckError naming ``what`` was being done."""
        try:
            return fn()
        except MethodCheckError:
            raise
        except Exception as exc:
            raise self.fail(check, f"{what} raised {type(exc).__name__}: {exc}") from exc

    # -- protocol -------------------------------------------------------------------------------------

    def build(self, check: str = "protocol") -> FingerprintMethod:
        n_bits, resolution = self.n_bits, self.resolution
        method = self.call(check, f"factory(n_bits={n_bits}, resolution={resolution})",
                           lambda: self.factory(n_bits=n_bits, resolution=resolution))
        if not isinstance(method, FingerprintMethod):
            raise self.fail(check, f"the factory returned a {type(method).__name__}, not a FingerprintMethod",
                            "subclass fpbench.methods.FingerprintMethod")
        method_id = getattr(method, "id", None)
        if not isinstance(method_id, str) or not method_id or method_id != method_id.strip():
            raise self.fail(check, f"{type(method).__name__}.id is {method_id!r}, not a non-empty id",
                            "set the class attribute id = 'my_method'")
        self.where = f"method {method_id!r} ({type(method).__name__})"
        for name, asked in (("n_bits", n_bits), ("resolution", resolution)):
            got = getattr(method, name, None)
            if got != asked:
                raise self.fail(check, f"{name} is {got!r}, but the factory was asked for {name}={asked}",
                                f"call FingerprintMethod.__init__(self, n_bits, resolution) and keep {name}")
        return method

    # -- config ---------------------------------------------------------------------------------------

    def config_json(self, method: FingerprintMethod) -> str:
        config = self.call("config", "reading .config", lambda: method.config)
        if not isinstance(config, dict):
            raise self.fail("config", f"config is a {type(config).__name__}, not a dict",
                            "return a dict of plain values")
        _check_plain(config, "config", lambda problem: self.fail(
            "config", problem, "keep config to str / int / float / bool / None, lists and dicts with str keys"))
        for key in ("id", "n_bits", "resolution"):
            if key not in config:
                raise self.fail("config", f"config lacks {key!r} (keys: {sorted(config)})",
                                "extend super().config: {**super().config, ...}")
            if config[key] != getattr(method, key):
                raise self.fail("config", f"config[{key!r}] is {config[key]!r}, but the method's {key} is "
                                f"{getattr(method, key)!r}")
        return json.dumps(config, sort_keys=True, allow_nan=False)

    def check_config(self, method: FingerprintMethod) -> str:
        first = self.config_json(method)
        second = self.config_json(self.build("config"))
        if first != second:
            raise self.fail("config", f"two instances made alike have different configs: {first} vs {second}",
                            "put only the options, never ids, times or random draws, in config")
        return first


def _name(factory: Any) -> str:
    if isinstance(factory, functools.partial):
        return f"partial({_name(factory.func)}, ...)"
    return getattr(factory, "__qualname__", None) or type(factory).__name__


def _check_plain(value: Any, path: str, fail: Callable[[str], MethodCheckError]) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise fail(f"{path} is {value!r}, not a finite number")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{path}[{i}]", fail)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise fail(f"{path} has the key {key!r} ({type(key).__name__}), not a str")
            _check_plain(item, f"{path}[{key!r}]", fail)
        return
    raise fail(f"{path} is a {type(value).__module__}.{type(value).__qualname__} ({value!r:.60}), not a plain "
               "JSON value")


def _mismatch(got: object, want: torch.Tensor) -> float | None:
    """None when ``got`` equals ``want`` exactly, else their largest difference (inf for another shape)."""
    if isinstance(got, torch.Tensor) and got.shape == want.shape:
        return None if torch.equal(got, want) else _max_diff(got, want)
    return math.inf


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max()) if a.numel() else 0.0


def _check_embedded(c: _Checker, check: str, out: Any, n: int, what: str) -> torch.Tensor:
    r = c.resolution
    if not isinstance(out, torch.Tensor):
        raise c.fail(check, f"{what} returned a {type(out).__name__}, not a torch tensor")
    if out.dtype != torch.uint8:
        raise c.fail(check, f"{what} returned dtype {out.dtype}, expected torch.uint8",
                     "quantise the result like a file on disk: return self.quantise(x) (x float in [0, 1])")
    if tuple(out.shape) != (n, 3, r, r):
        raise c.fail(check, f"{what} returned shape {tuple(out.shape)}, expected {(n, 3, r, r)}")
    return out


def _check_decoded(c: _Checker, check: str, out: Any, n: int, what: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise c.fail(check, f"{what} returned a {type(out).__name__}, not a torch tensor")
    if not out.is_floating_point():
        raise c.fail(check, f"{what} returned dtype {out.dtype}, expected soft bits as floats in [0, 1]")
    if tuple(out.shape) != (n, c.n_bits):
        raise c.fail(check, f"{what} returned shape {tuple(out.shape)}, expected {(n, c.n_bits)} "
                     "(images x n_bits)")
    if not torch.isfinite(out).all():
        raise c.fail(check, f"{what} returned non-finite values (NaN or inf)")
    if out.numel() and (out.min() < 0 or out.max() > 1):
        raise c.fail(check, f"{what} returned values in [{float(out.min()):.4g}, {float(out.max()):.4g}], "
                     "outside [0, 1]", "return probabilities, e.g. torch.sigmoid(logits)")
    return out


def _unchanged(c: _Checker, check: str, what: str, before: torch.Tensor, after: torch.Tensor) -> None:
    if not torch.equal(before, after):
        raise c.fail(check, f"{what} modified its input in place", "work on a copy (x = x.clone(), "
                     "or out-of-place operations: x + d rather than x += d)")


def _expect_method_error(c: _Checker, what: str, fn: Callable[[], Any], check: str = "errors") -> None:
    try:
        out = fn()
    except MethodError as exc:
        if not str(exc).strip():
            raise c.fail(check, f"{what} raised MethodError with an empty message",
                         "say what is wrong, where, and the fix") from exc
        return
    except Exception as exc:
        raise c.fail(check, f"{what} raised {type(exc).__name__}({str(exc)!r:.120}) instead of "
                     "fpbench.methods.MethodError (a ValueError)", _VALIDATE_FIX) from exc
    shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    raise c.fail(check, f"{what} was accepted silently (returned {shape}) instead of raising "
                 "fpbench.methods.MethodError", _VALIDATE_FIX)


def _check_strength(c: _Checker, method: Any, x: torch.Tensor, fps: torch.Tensor, marked: torch.Tensor) -> None:
    """The ``strength`` contract of a tunable method (nothing to check for others)."""
    if not getattr(method, "tunable", False):
        return
    fix = "give tunable methods a float strength property within strength_range (see FingerprintMethod)"
    rng = getattr(method, "strength_range", None)
    default = c.call("strength", "method.strength", lambda: method.strength)
    if not (isinstance(rng, tuple) and len(rng) == 2 and rng[0] < rng[1]):
        raise c.fail("strength", f"strength_range must be a (low, high) tuple with low < high, got {rng!r}", fix)
    if isinstance(default, bool) or not isinstance(default, (int, float)) or not rng[0] <= default <= rng[1]:
        raise c.fail("strength", f"the default strength {default!r} is not a number in {rng}", fix)
    quality = {}
    for end in rng:
        c.call("strength", f"setting strength = {end:g}", lambda end=end: setattr(method, "strength", end))
        stamped = c.call("strength", f"embed at strength {end:g}", lambda: method.embed(x, fps))
        quality[end] = psnr(x.float() / 255, stamped.float() / 255).mean().item()
    c.call("strength", f"setting strength back to {default:g}", lambda: setattr(method, "strength", default))
    if quality[rng[1]] > quality[rng[0]] + 1e-6:
        raise c.fail("strength", f"the strongest end ({rng[1]:g}) stamps at {quality[rng[1]]:.2f} dB, above the "
                     f"weakest ({rng[0]:g}) at {quality[rng[0]]:.2f} dB", "more strength must change images more")
    again = c.call("strength", "embed after restoring the default strength", lambda: method.embed(x, fps))
    if (diff := _mismatch(again, marked)) is not None:
        raise c.fail("strength", f"going back to the default strength embeds images up to {diff:.0f} grey "
                     "levels away from before", "derive everything strength changes from the strength itself")
    beyond = rng[1] * 2 if rng[1] > 0 else rng[1] + 1

    def set_beyond() -> None:
        method.strength = beyond

    _expect_method_error(c, f"setting strength = {beyond:g} (outside {rng})", set_beyond, "strength")
    method.strength = default


def check_method(factory: Callable[..., Any], *, n_bits: int = 16, resolution: int = 16,
                 fit_images: torch.Tensor | None = None, checks: Iterable[str] | None = None) -> dict[str, str]:
    """Check the method ``factory(n_bits=n_bits, resolution=resolution)`` against the FingerprintMethod
    contract (see the module's docstring); ``checks``: a subset of ``CHECKS`` (default: all).

    Returns ``{check: "ok"}`` for each check run; raises :class:`MethodCheckError` (an AssertionError) at
    the first failure, its message naming the check, the method, what was wrong and the fix. Pass a learned
    method's fast options with :func:`functools.partial`, e.g. ``partial(MyMethod, steps=3)``."""
    selected = set(CHECKS if checks is None else ([checks] if isinstance(checks, str) else checks))
    unknown = sorted(selected - set(CHECKS))
    if unknown:
        raise ValueError(f"check_method: unknown check(s) {', '.join(map(repr, unknown))}."
                         f"{did_you_mean(unknown[0], CHECKS)} Valid checks: {', '.join(CHECKS)}.")
    if fit_images is None:
        fit_images = make_images(64, resolution, seed=0)
    elif (not isinstance(fit_images, torch.Tensor) or fit_images.dtype != torch.uint8
          or tuple(fit_images.shape[1:]) != (3, resolution, resolution) or len(fit_images) == 0):
        shape = tuple(fit_images.shape) if isinstance(fit_images, torch.Tensor) else type(fit_images).__name__
        raise ValueError(f"check_method: fit_images must be a uint8 N x 3 x {resolution} x {resolution} tensor, "
                         f"got {shape}; omit it to use make_images(64, {resolution})")

    c = _Checker(factory, n_bits, resolution)
    report: dict[str, str] = {}
    method = c.build()
    if "protocol" in selected:
        report["protocol"] = "ok"
    config = c.check_config(method) if "config" in selected else None

    # fit
    fit_copy = fit_images.clone()
    c.call("fit", f"fit({len(fit_images)} uint8 images of {resolution}x{resolution}, seed=0)",
           lambda: method.fit(fit_copy, seed=0))
    _unchanged(c, "fit", "fit", fit_images, fit_copy)
    if "fit" in selected:
        report["fit"] = "ok"
    if config is not None:
        after = c.config_json(method)
        if after != config:
            raise c.fail("config", f"fit changed config from {config} to {after}",
                         "keep learned values in state_dict(), not in config: a fresh instance must match a "
                         "saved one")
        report["config"] = "ok"

    n, r = 8, resolution
    x = make_images(n, r, seed=1)
    fps = _bits(n, n_bits, seed=1)

    def embed(images: Any, fingerprints: Any, check: str, what: str) -> torch.Tensor:
        return c.call(check, what, lambda: method.embed(images, fingerprints))

    def decode(images: Any, check: str, what: str) -> torch.Tensor:
        return c.call(check, what, lambda: method.decode(images))

    # embed: the reference outputs every later check compares with
    x_in, fps_in = x.clone(), fps.clone()
    marked = _check_embedded(c, "embed", embed(x_in, fps_in, "embed", "embed(uint8 images, N x n_bits)"), n,
                             "embed(uint8 images, N x n_bits)")
    _unchanged(c, "embed", "embed (images)", x, x_in)
    _unchanged(c, "embed", "embed (fingerprints)", fps, fps_in)
    decoded = None
    if "embed" in selected:
        xf = x.float() / 255
        xf_in = xf.clone()
        what = "embed(float [0, 1] images, N x n_bits)"
        from_float = _check_embedded(c, "embed", embed(xf_in, fps, "embed", what), n, what)
        _unchanged(c, "embed", "embed (float images)", xf, xf_in)
        if not torch.equal(from_float, marked):
            raise c.fail("embed", "embed gives different images for uint8 input and the same images as floats "
                         f"(uint8 / 255): up to {_max_diff(from_float, marked):.0f} grey levels apart",
                         "convert the input once, e.g. x = self.check_images(images, exact=True)")
        one = fps[0].clone()
        what = "embed(uint8 images, one bit string of n_bits)"
        shared = _check_embedded(c, "embed", embed(x, one, "embed", what), n, what)
        _unchanged(c, "embed", "embed (one bit string)", fps[0], one)
        rows = embed(x, fps[0].expand(n, -1).clone(), "embed", "embed(uint8 images, N equal rows)")
        if not torch.equal(shared, rows):
            raise c.fail("embed", "embed with one bit string differs from embed with that bit string on every "
                         f"row (up to {_max_diff(shared, rows):.0f} grey levels)",
                         "expand one bit string to N rows, e.g. self.check_fingerprints(fingerprints, len(x))")
        report["embed"] = "ok"

    if "decode" in selected or "determinism" in selected or "batch_independence" in selected \
            or "save_load" in selected:
        marked_in = marked.clone()
        decoded = _check_decoded(c, "decode", decode(marked_in, "decode", "decode(N embedded images)"), n,
                                 "decode(N embedded images)")
        _unchanged(c, "decode", "decode", marked, marked_in)
    if "decode" in selected:
        assert decoded is not None
        _check_decoded(c, "decode", decode(x, "decode", "decode(N plain images)"), n, "decode(N plain images)")
        big = make_images(n, 2 * r, seed=2)
        what = f"decode(images of {2 * r}x{2 * r}, another size than the resolution {r})"
        _check_decoded(c, "decode", decode(big, "decode", what), n, what)
        _check_decoded(c, "decode", decode(marked[:1], "decode", "decode(one image)"), 1, "decode(one image)")
        report["decode"] = "ok"

    if "determinism" in selected:
        assert decoded is not None
        again = embed(x, fps, "determinism", "embed (second call)")
        if not torch.equal(again, marked):
            raise c.fail("determinism", "embed is not deterministic: the same call twice gives images up to "
                         f"{_max_diff(again, marked):.0f} grey levels apart",
                         "draw any randomness from a torch.Generator seeded from the config, not the global RNG")
        decoded_again = decode(marked, "determinism", "decode (second call)")
        if not torch.equal(decoded_again, decoded):
            raise c.fail("determinism", "decode is not deterministic: the same call twice gives soft bits up to "
                         f"{_max_diff(decoded_again, decoded):.3g} apart",
                         "draw any randomness from a torch.Generator seeded from the config, not the global RNG")
        report["determinism"] = "ok"

    if "batch_independence" in selected:
        assert decoded is not None
        one_by_one = torch.cat([embed(x[i:i + 1], fps[i:i + 1], "batch_independence", f"embed(image {i} alone)")
                                for i in range(n)])
        diff = _max_diff(one_by_one, marked)
        if one_by_one.shape != marked.shape or diff > EMBED_BATCH_TOLERANCE:
            raise c.fail("batch_independence", f"embed depends on the batch: {n} images embedded together and "
                         f"one by one differ by up to {diff:.0f} grey levels",
                         "treat each image on its own (no batch statistics, BatchNorm in eval mode)")
        singles = torch.cat([decode(marked[i:i + 1], "batch_independence", f"decode(image {i} alone)")
                             for i in range(n)])
        halves = torch.cat([decode(marked[: n // 2], "batch_independence", "decode(first half)"),
                            decode(marked[n // 2:], "batch_independence", "decode(second half)")])
        for name, other in (("one by one", singles), ("in two halves", halves)):
            diff = _max_diff(other, decoded) if other.shape == decoded.shape else math.inf
            if diff > DECODE_BATCH_TOLERANCE:
                raise c.fail("batch_independence", f"decode depends on the batch: {n} images decoded together "
                             f"and {name} give soft bits up to {diff:.3g} apart",
                             "treat each image on its own (no batch statistics, BatchNorm in eval mode)")
        report["batch_independence"] = "ok"

    if "save_load" in selected:
        assert decoded is not None
        with tempfile.TemporaryDirectory(prefix="fpbench-check-") as tmp:
            path = Path(tmp) / "method.safetensors"
            c.call("save_load", "save_method(method, path)", lambda: save_method(method, path))
            fresh = c.build("save_load")
            c.call("save_load", "load_method(fresh instance made alike, path)", lambda: load_method(fresh, path))
        fix = ("return every learned tensor from state_dict() and restore it in load_state_dict(); keep "
               "everything else in config")
        reloaded = c.call("save_load", "embed after load_method", lambda: fresh.embed(x, fps))
        if (diff := _mismatch(reloaded, marked)) is not None:
            raise c.fail("save_load", "save_method / load_method changes embed: a fresh instance loaded from the "
                         f"saved file embeds images up to {diff:.0f} grey levels away from the original", fix)
        redecoded = c.call("save_load", "decode after load_method", lambda: fresh.decode(marked))
        if (diff := _mismatch(redecoded, decoded)) is not None:
            raise c.fail("save_load", "save_method / load_method changes decode: a fresh instance loaded from "
                         f"the saved file decodes soft bits up to {diff:.3g} away from the original", fix)
        report["save_load"] = "ok"

    if "strength" in selected:
        _check_strength(c, method, x, fps, marked)
        report["strength"] = "ok"

    if "errors" in selected:
        gray = x[:, :1].clone()
        cases: list[tuple[str, Callable[[], Any]]] = [
            (f"embed with a fingerprint of {n_bits + 1} bits (n_bits is {n_bits})",
             lambda: method.embed(x, torch.zeros(n_bits + 1))),
            (f"embed with fingerprints of shape {(n, n_bits + 1)}",
             lambda: method.embed(x, torch.zeros(n, n_bits + 1))),
            ("embed with a non-binary fingerprint (0.5s)", lambda: method.embed(x, torch.full((n_bits,), 0.5))),
            ("embed with a non-binary fingerprint (2s)",
             lambda: method.embed(x, torch.full((n, n_bits), 2.0))),
            ("embed with images as a numpy array (not a tensor)", lambda: method.embed(x.numpy(), fps)),
            ("decode with images as a numpy array (not a tensor)", lambda: method.decode(x.numpy())),
            ("embed with 1-channel images (N x 1 x R x R)", lambda: method.embed(gray, fps)),
            ("decode with 1-channel images (N x 1 x R x R)", lambda: method.decode(gray)),
        ]
        for what, fn in cases:
            _expect_method_error(c, what, fn)
        report["errors"] = "ok"

    return {name: report[name] for name in CHECKS if name in report}
