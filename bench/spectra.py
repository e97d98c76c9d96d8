"""Per-source spectra a run measures from images (not rows), saved beside results.csv as plain arrays so
the report can draw them from the run folder alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fpbench.atomic import write_atomic

SPECTRA_FILE = "fingerprint_spectrum.npz"


def write_spectra(spectra: dict[str, np.ndarray], path: Path) -> Path:
    """``{source: HxW array}`` as an ``.npz`` archive (written atomically)."""
    def write(p: Path) -> None:
        with open(p, "wb") as f:
            np.savez(f, **{k: np.asarray(v, dtype=np.float64) for k, v in spectra.items()})

    return write_atomic(path, write)


def read_spectra(path: Path) -> dict[str, np.ndarray]:
    """The spectra of :func:`write_spectra`, loaded without pickle (arrays only)."""
    with np.load(path, allow_pickle=False) as archive:
        return {k: archive[k] for k in archive.files}
