"""Model cards for external generators: a YAML or JSON file describing one fingerprinted model.

Fields: ``id`` (str), ``fingerprint`` (a quoted string of 0/1), ``n_bits`` (int, = len(fingerprint)),
``resolution`` (int, side of the square images), and exactly one source:

- ``folder: PATH``: generated images (PNG/JPEG/WebP, any mode, loaded as RGB); a relative PATH is
  resolved against the card's folder;
- ``callable: "module:function"``: ``function()`` returns a torch ``nn.Module`` generator (with a
  ``latent_dim`` attribute, mapping ``B x latent_dim`` to ``B x 3 x R x R`` in [0, 1]) or a sampler
  ``(n, seed) -> float n x 3 x R x R in [0, 1]``.

Optional: ``method`` (the id of the fingerprinting method that stamped the model's training data, default
the paper's ``artificial_fingerprint``; ``fpbench methods`` lists them) and ``decoder`` (a checkpoint
file of that method's decoder: the authors' ``.pth`` state dict, an fpbench ``.safetensors`` checkpoint;
relative to the card's folder). Without ``decoder`` a run decodes the model with the run's own trained
decoder of ``method``, so its fingerprint is registered beside the run's zoo.

A card is data, checked before use: at most :data:`MAX_CARD_BYTES`, UTF-8, and no YAML anchors or
aliases (``&name`` / ``*name``; a few lines of them expand into gigabytes). ``callable:`` runs code from
the named module with your privileges, as a pytest plugin does: load cards only from people you trust.

Example (YAML; quote the fingerprint, or YAML reads ``0110`` as a number)::

    id: stylegan2-celeba-fp42
    fingerprint: "0110100111"
    n_bits: 10
    resolution: 128
    folder: samples/
    decoder: checkpoints/decoder.pth   # optional: the decoder trained with the model's fingerprint
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fpbench.fingerprint.authors import DECODER_SUFFIXES


class ModelCardError(ValueError):
    """A model card that cannot be used; the message says which field and why."""


MAX_CARD_BYTES = 64 * 1024  # a card is a handful of fields; anything larger is a wrong file or an attack


class _AliasRefused(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark | None) -> None:
        super().__init__()
        self.line = mark.line + 1 if mark is not None else None


class _CardLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses anchors and aliases: nested aliases ("billion laughs") turn a
    1 KB file into a structure that takes gigabytes to print or walk, and a card never needs them."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _AliasRefused(event.start_mark)
        return super().compose_node(parent, index)


REQUIRED = ("id", "fingerprint", "n_bits", "resolution")
SOURCES = ("folder", "callable")
OPTIONAL = ("description", "method", "decoder")
DEFAULT_METHOD = "artificial_fingerprint"  # the paper's method (fpbench.methods)


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
    method: str = DEFAULT_METHOD
    decoder: Path | None = None  # a checkpoint of the method's decoder; None: the run's own

    @property
    def fingerprint_bits(self) -> list[int]:
        return [int(c) for c in self.fingerprint]


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ModelCardError(f"model card {path} does not exist")
    if not path.is_file():
        raise ModelCardError(f"model card {path} is not a regular file; pass the card's .yaml/.json file")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CARD_BYTES + 1)
    except OSError as exc:
        raise ModelCardError(f"cannot read model card {path}: {exc}; check its permissions") from exc
    if len(raw) > MAX_CARD_BYTES:
        raise ModelCardError(f"model card {path} is larger than {MAX_CARD_BYTES // 1024} KiB, the limit for "
                             "a card; a card holds a few fields (images go in a `folder:`), so check that "
                             "this is the card you meant")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelCardError(f"model card {path} is not UTF-8 text ({exc}); save it as UTF-8") from exc
    kind = path.suffix[1:].upper() or "YAML"
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=_CardLoader)
    except _AliasRefused as exc:
        raise ModelCardError(f"model card {path} uses a YAML anchor or alias (&name / *name) on line "
                             f"{exc.line}; cards may not (a few lines of aliases can expand into gigabytes): "
                             "write each value out in full") from None
    except RecursionError:
        raise ModelCardError(f"model card {path} nests too deeply to be a card; a card is a flat mapping "
                             "of fields") from None
    except Exception as exc:  # parsers raise more than their own errors: ValueError for 2001-13-45...
        raise ModelCardError(f"model card {path} is not valid {kind}: {type(exc).__name__}: {exc}") from exc
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
    """Check the fields of a card (as read from YAML/JSON) -> :class:`ModelCard`; every problem raises
    :class:`ModelCardError`."""
    where = f"model card {path}" if path else "model card"
    if not isinstance(data, dict):
        raise ModelCardError(f"{where} must hold a mapping of fields, got {type(data).__name__}")
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
        raw = data["folder"]
        if not isinstance(raw, str) or not raw.strip() or "\0" in raw:
            raise ModelCardError(f"{where}: folder must be a path to a folder of images, got {raw!r} "
                                 "(in YAML, quote a folder name that looks like a number)")
        folder = Path(os.path.expanduser(raw))
        folder = folder if folder.is_absolute() else base_dir / folder
    spec = data.get("callable")
    if spec is not None and not _is_callable_spec(spec):
        raise ModelCardError(f"{where}: callable must look like 'package.module:function' (Python names "
                             f"separated by dots, one colon), got {spec!r}")
    method = data.get("method", DEFAULT_METHOD)
    if not isinstance(method, str) or not method.strip():
        raise ModelCardError(f"{where}: method must be a method id (see `fpbench methods`), got {method!r}")
    return ModelCard(id=data["id"], fingerprint=fingerprint, n_bits=data["n_bits"],
                     resolution=data["resolution"], folder=folder, callable=spec,
                     description=str(data.get("description", "")), path=path, method=method,
                     decoder=_decoder_path(data.get("decoder"), base_dir, where))


def _decoder_path(raw: object, base_dir: Path, where: str) -> Path | None:
    """The card's ``decoder:`` as a path to an existing checkpoint file of a known kind, or None."""
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.strip() or "\0" in raw:
        raise ModelCardError(f"{where}: decoder must be the path of a decoder checkpoint file, got {raw!r}")
    path = Path(os.path.expanduser(raw))
    path = path if path.is_absolute() else base_dir / path
    if path.suffix.lower() not in DECODER_SUFFIXES:
        raise ModelCardError(f"{where}: decoder {path} is not a checkpoint file fpbench reads "
                             f"({', '.join(DECODER_SUFFIXES)}): the authors' torch.save state dict (.pth) or an "
                             "fpbench .safetensors checkpoint")
    if not path.is_file():
        raise ModelCardError(f"{where}: decoder {path} does not exist (a relative path is read from the "
                             "card's folder)")
    return path


def _is_callable_spec(spec: object) -> bool:
    if not isinstance(spec, str) or spec.count(":") != 1:
        return False
    module, func = spec.split(":")
    return func.isidentifier() and all(part.isidentifier() for part in module.split("."))


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
