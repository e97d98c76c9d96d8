"""Model cards for external generators: a YAML or JSON file describing one fingerprinted model.

Fields: ``id`` (str), ``fingerprint`` (a quoted string of 0/1), ``n_bits`` (int, = len(fingerprint)),
``resolution`` (int, side of the square images), and exactly one source:

- ``folder: PATH``: generated images (PNG/JPEG/WebP, any mode, loaded as RGB); a relative PATH is
  resolved against the card's folder;
- ``callable: "module:function"``: ``function()`` returns a torch ``nn.Module`` generator (with a
  ``latent_dim`` attribute, mapping ``B x latent_dim`` to ``B x 3 x R x R`` in [0, 1]) or a sampler
  ``(n, seed) -> float n x 3 x R x R in [0, 1]``.

Example (YAML; quote the fingerprint, or YAML reads ``0110`` as a number)::

    id: stylegan2-celeba-fp42
    fingerprint: "0110100111"
    n_bits: 10
    resolution: 128
    folder: samples/
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class ModelCardError(ValueError):
    """A model card that cannot be used; the message says which field and why."""


REQUIRED = ("id", "fingerprint", "n_bits", "resolution")
SOURCES = ("folder", "callable")
OPTIONAL = ("description",)


@dataclass(frozen=True)
class ModelCard:
    id: str
    fingerprint: str
    n_bits: int
    resolution: int
    folder: Path | None = None
    callable: str | None = None
    description: str = ""
    path: Path | None = None  # the card file, for messages

    @property
    def fingerprint_bits(self) -> list[int]:
        return [int(c) for c in self.fingerprint]


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelCardError(f"model card {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ModelCardError(f"model card {path} is not valid {path.suffix[1:].upper() or 'YAML'}: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelCardError(f"model card {path} must hold a mapping of fields, got {type(data).__name__}")
    return data


def check_fingerprint(fingerprint: Any, n_bits: int, *, where: str = "fingerprint") -> str:
    """Return ``fingerprint`` if it is a string of exactly ``n_bits`` characters 0/1."""
    if not isinstance(fingerprint, str):
        raise ModelCardError(
            f"{where} must be a string of 0/1 characters, got {type(fingerprint).__name__} {fingerprint!r}"
            " (in YAML, quote it: fingerprint: \"0110...\")")
    bad = sorted(set(fingerprint) - {"0", "1"})
    if bad:
        raise ModelCardError(f"{where} may contain only '0' and '1', found {bad}")
    if len(fingerprint) != n_bits:
        raise ModelCardError(f"{where} has {len(fingerprint)} bits but n_bits is {n_bits}")
    return fingerprint


def parse_card(data: dict[str, Any], *, base_dir: Path, path: Path | None = None) -> ModelCard:
    where = f"model card {path}" if path else "model card"
    known = set(REQUIRED) | set(SOURCES) | set(OPTIONAL)
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ModelCardError(f"{where}: unknown field {key!r}.{hint} Valid fields: {', '.join(sorted(known))}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise ModelCardError(f"{where}: missing field(s) {', '.join(missing)}")
    sources = [k for k in SOURCES if data.get(k) is not None]
    if len(sources) != 1:
        raise ModelCardError(f"{where}: needs exactly one source, 'folder' or 'callable', got {sources or 'none'}")
    for key in ("n_bits", "resolution"):
        if isinstance(data[key], bool) or not isinstance(data[key], int) or data[key] < 1:
            raise ModelCardError(f"{where}: {key} must be a positive int, got {data[key]!r}")
    if not isinstance(data["id"], str) or not data["id"].strip():
        raise ModelCardError(f"{where}: id must be a non-empty string, got {data['id']!r}")
    fingerprint = check_fingerprint(data["fingerprint"], data["n_bits"], where=f"{where}: fingerprint")
    folder = None
    if "folder" in sources:
        folder = Path(os.path.expanduser(str(data["folder"])))
        folder = folder if folder.is_absolute() else base_dir / folder
    spec = data.get("callable")
    if spec is not None and (not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":"))):
        raise ModelCardError(f"{where}: callable must look like 'package.module:function', got {spec!r}")
    return ModelCard(id=data["id"], fingerprint=fingerprint, n_bits=data["n_bits"],
                     resolution=data["resolution"], folder=folder, callable=spec,
                     description=str(data.get("description", "")), path=path)


def load_card(path: str | os.PathLike[str], *, decoder_n_bits: int | None = None) -> ModelCard:
    """Read and check a model card (``.yaml``/``.yml``/``.json``). ``decoder_n_bits``: the n_bits of
    the fingerprint decoder the model will be tested with; a card whose fingerprint length differs
    is rejected (the message gives both)."""
    path = Path(path)
    card = parse_card(_read(path), base_dir=path.parent, path=path)
    if decoder_n_bits is not None and decoder_n_bits != card.n_bits:
        raise ModelCardError(f"model card {path}: fingerprint has {card.n_bits} bits but the decoder "
                             f"decodes {decoder_n_bits} bits")
    return card
