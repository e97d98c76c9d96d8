"""One colour per method, model and attack id, the same in every plot and every run.

Known ids get fixed colours; any other id gets a colour picked by a stable hash of its name (not
Python's salted ``hash``), so a new generator keeps its colour across runs and reports.
"""

from __future__ import annotations

import hashlib

# Okabe-Ito for methods, seaborn's "colorblind" hues for generators and any other id (both colour-blind
# safe); fingerprinted data is black.
FIXED: dict[str, str] = {
    "artificial_fingerprint": "#0072B2",
    "yu2019": "#E69F00",
    "wang2020": "#009E73",
    "frank2020": "#CC79A7",
    "durall2020": "#D55E00",
    "marra2019": "#56B4E9",
    "artificial_fingerprint_immunised": "#fbafe4",
    "lsb": "#949494",
    "dct_qim": "#ca9161",
    "data": "#000000",
    "progan": "#0173b2",
    "stylegan": "#de8f05",
    "stylegan2": "#029e73",
    "biggan": "#d55e00",
    "dcgan": "#cc78bc",
    "cut": "#ca9161",
}
FALLBACK = ("#0173b2", "#de8f05", "#029e73", "#d55e00", "#cc78bc", "#ca9161", "#fbafe4", "#949494",
            "#ece133", "#56b4e9")


def colour(name: str) -> str:
    """Hex colour for an id, e.g. ``colour('data') == '#000000'``; deterministic for unknown ids."""
    if name in FIXED:
        return FIXED[name]
    digest = hashlib.sha1(name.encode("utf-8")).digest()
    return FALLBACK[digest[0] % len(FALLBACK)]


def palette(names: list[str]) -> dict[str, str]:
    """``{name: colour}`` for seaborn's ``palette=`` argument."""
    return {n: colour(n) for n in names}
