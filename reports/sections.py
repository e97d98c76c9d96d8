"""The report's sections: one per question the paper asks, each pairing its plots with compact tables.

:func:`layout` sorts every table and plot a run produced into its section, in reading order: the plot,
then the compact table that condenses it, then the long per-level table (which the page collapses). A
table or plot this module does not know lands in "More results", so nothing a stage writes is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fpbench.reports.tables import Table


@dataclass(frozen=True)
class Extra:
    """A table of strings beyond the main ones (already formatted), with its title."""

    title: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class Plot:
    path: Path
    caption: str


Item = Table | Extra | Plot


@dataclass(frozen=True)
class Section:
    anchor: str
    title: str
    intro: str  # the question the section answers (or what it shows)
    items: tuple[tuple[str, Item], ...] = field(default_factory=tuple)  # (file stem, item)


PLOT_CAPTIONS = {
    "robustness_image": "Bit accuracy under image perturbations (paper Fig. 3 style).",
    "robustness_methods": "Detection / attribution accuracy of each method under image perturbations.",
    "model_attacks": "Bit accuracy against FID under model perturbations.",
    "heatmap_strongest": "Bit accuracy at the strongest severity of every attack.",
    "roc": "ROC points: TPR at fixed FPR.",
    "adaptive_success_vs_psnr": "Adaptive attacks: success rate against the PSNR the adversary pays.",
    "fingerprint_spectrum": "Mean amplitude spectrum of fingerprinted minus clean images (drawn by the run).",
    "baseline_training": "Validation curves of the learned baselines.",
    "methods_robustness": "Bit accuracy of every fingerprinting method under image perturbations: solid on the "
                          "stamped photos, dashed on generator samples, dash-dotted at a method's own default "
                          "strength.",
}

#: (anchor, title, intro, item names in reading order)
SECTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("transfer", "Transfer", "Does the fingerprint reach the training data and every generator trained on it "
     "(paper Table 1)?", ("transfer",)),
    ("robustness", "Image perturbations", "Does it survive what happens to an image on its way (paper Fig. 3)?",
     ("robustness_image", "robustness_summary", "heatmap_strongest")),
    ("model-attacks", "Model attacks", "Does it survive what a model thief does to the weights, and does the "
     "model stay worth stealing?", ("model_attacks", "model_attack_breakpoints")),
    ("adaptive", "Adaptive attacks and detectability", "Can an adversary who knows the method remove, forge or "
     "detect it?", ("adaptive_success_vs_psnr", "adaptive_best_success", "adaptive", "fingerprint_spectrum")),
    ("threats", "Threat cards", "Whom does each model and adaptive attack model (what it knows, uses and spends), "
     "and within what quality budget does it count as a success?", ("threat_cards",)),
    ("baselines", "Against passive attribution", "Does it beat classifiers that attribute without a fingerprint "
     "(paper Table 2), closed and open world?",
     ("detection", "roc", "robustness_methods", "baseline_training")),
)
OTHER = ("more", "More results", "Tables and plots not sorted into a section above.")
#: long per-level tables are shown after the plot and the compact table of their section
LONG_LAST = ("robustness_image", "model_attacks", "adaptive")


def layout(tables: dict[str, Table], plots: dict[str, Path], extras: dict[str, Extra]) -> list[Section]:
    """Every table, plot and extra in its section; empty sections are left out."""
    items: dict[str, list[tuple[str, Item]]] = {}
    for name, path in plots.items():
        items.setdefault(name, []).append((name, Plot(path, PLOT_CAPTIONS.get(name, name))))
    for name, extra in extras.items():
        items.setdefault(name, []).append((name, extra))
    for name, table in tables.items():
        items.setdefault(name, []).append((name, table))
    out, placed = [], set()
    for anchor, title, intro, names in SECTIONS:
        here = [it for n in names for it in items.get(n, [])]
        placed.update(names)
        short = [it for it in here if not _long(it)]
        if here:
            out.append(Section(anchor, title, intro, tuple(short + [it for it in here if _long(it)])))
    rest = [it for n, its in items.items() if n not in placed for it in its]
    if rest:
        out.append(Section(*OTHER, tuple(rest)))
    return out


def _long(item: tuple[str, Item]) -> bool:
    return item[0] in LONG_LAST and isinstance(item[1], Table)
