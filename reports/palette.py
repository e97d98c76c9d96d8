"""One colour per method, model and attack id, the same in every plot and every run.

Known ids get fixed colours; any other id gets a colour picked by a stable hash of its name (not
Python's salted ``hash``), so a new generator keeps its colour across runs and reports.
"""

from __future__ import annotations

import hashlib

# Okabe-Ito (colour-blind safe) for methods; tab10-like hues for generators; fingerprinted data is black.
FIXED: dict[str, str] = {
    "artificial_fingerprint": "#0072B2",
    "yu2019": "#E69F00",
    "wang2020": "#009E73",
    "frank2020": "#CC79A7",
    "durall2020": "#D55E00",
    "marra2019": "#56B4E9",
    "data": "#000000",
    "progan": "#1f77b4",
    "stylegan": "#ff7f0e",
    "stylegan2": "#2ca02c",
    "biggan": "#d62728",
    "dcgan": "#9467bd",
    "cut": "#8c564b",
}
FALLBACK = (
    "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#666666",
    "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5",
)


def colour(name: str) -> str:
    """Hex colour for an id, e.g. ``colour('data') == '#000000'``; deterministic for unknown ids."""
    if name in FIXED:
        return FIXED[name]
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return FALLBACK[digest[0] % len(FALLBACK)]


def palette(names: list[str]) -> dict[str, str]:
    """``{name: colour}`` for seaborn's ``palette=`` argument."""
    return {n: colour(n) for n in names}
