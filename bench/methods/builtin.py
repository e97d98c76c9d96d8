"""Importing this module registers every built-in method."""

from fpbench.methods import artificial, dct_qim, lsb  # noqa: F401
