"""Fingerprinting methods behind one protocol (:class:`FingerprintMethod`) and one registry, so a run can
measure any scheme: built-in ones, installed plug-ins (entry-point group ``fpbench.methods``) and
``module:factory`` specs."""

from fpbench.methods.base import FingerprintMethod, MethodError, load_method, save_method
from fpbench.methods.registry import (
    ENTRY_POINT_GROUP,
    METHODS,
    all_methods,
    get_method_factory,
    make_method,
    register_method,
)

__all__ = ["ENTRY_POINT_GROUP", "METHODS", "FingerprintMethod", "MethodError", "all_methods", "get_method_factory",
           "load_method", "make_method", "register_method", "save_method"]
