"""Importing this module registers every built-in method."""

from fpbench.methods import artificial  # noqa: F401
