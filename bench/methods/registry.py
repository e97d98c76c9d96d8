"""The one registry of fingerprinting methods: built-in ones, those installed packages declare under the
entry-point group ``fpbench.methods`` (an installed package is an available method, as pytest plugins are),
and ``module:factory`` specs a user names explicitly. A factory is called as ``factory(n_bits=...,
resolution=..., **options)`` and returns a :class:`~fpbench.methods.base.FingerprintMethod`."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata

from fpbench.methods.base import FingerprintMethod, MethodError
from fpbench.registry import Registry

ENTRY_POINT_GROUP = "fpbench.methods"
MethodFactory = Callable[..., FingerprintMethod]

METHODS: Registry[MethodFactory] = Registry("method")


def register_method(method_id: str) -> Callable[[MethodFactory], MethodFactory]:
    """Decorator: register a factory (usually the method class) under ``method_id``."""
    return METHODS.register(method_id)


def load_entry_points() -> Registry[MethodFactory]:
    """Add the methods of installed packages (entry-point group ``fpbench.methods``) not registered yet.
    A plug-in that fails to import is an error naming it, not a silently missing method."""
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in METHODS:
            continue
        try:
            factory = ep.load()
        except Exception as exc:
            raise MethodError(f"the method plug-in {ep.name!r} ({ep.value}) failed to import: "
                              f"{type(exc).__name__}: {exc}") from None
        METHODS.add(ep.name, factory)
    return METHODS


def all_methods() -> Registry[MethodFactory]:
    """Every method: the built-in ones and the installed plug-ins."""
    import fpbench.methods.builtin  # noqa: F401  (registers the built-in methods)

    return load_entry_points()


def get_method_factory(spec: str) -> MethodFactory:
    """A method id (built-in or plug-in), or ``module:factory`` naming a callable in an importable module."""
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise MethodError(f"method {spec!r}: cannot import {attr!r} from module {module_name!r} "
                              f"({type(exc).__name__}: {exc})") from None
        if not callable(factory):
            raise MethodError(f"method {spec!r}: {attr} is not callable")
        return factory
    return all_methods().get(spec)


def make_method(spec: str, *, n_bits: int, resolution: int, **options: object) -> FingerprintMethod:
    """An instance of the method ``spec`` for ``n_bits``-bit fingerprints at ``resolution``."""
    method = get_method_factory(spec)(n_bits=n_bits, resolution=resolution, **options)
    if not isinstance(method, FingerprintMethod):
        raise MethodError(f"method {spec!r}: its factory returned a {type(method).__name__}, not a "
                          "fpbench.methods.FingerprintMethod")
    return method
