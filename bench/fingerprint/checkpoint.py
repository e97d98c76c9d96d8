"""Safe checkpoints for the fingerprint encoder/decoder: safetensors + JSON metadata, no pickle.

Files saved on a GPU load on a CPU-only machine (tensors are mapped to the requested device), and a
checkpoint whose fingerprint length or resolution differs from what the caller expects is a clear error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from fpbench.atomic import write_atomic
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder

FORMAT = "fpbench-fingerprint-v1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used as asked; the message says what differs."""


@dataclass(frozen=True)
class FingerprintModels:
    encoder: FingerprintEncoder
    decoder: FingerprintDecoder

    @property
    def n_bits(self) -> int:
        return self.decoder.n_bits

    @property
    def resolution(self) -> int:
        return self.decoder.resolution


def save_models(models: FingerprintModels, path: str | Path, extra: dict[str, str] | None = None) -> Path:
    tensors = {f"encoder.{k}": v.detach().cpu().contiguous() for k, v in models.encoder.state_dict().items()}
    tensors |= {f"decoder.{k}": v.detach().cpu().contiguous() for k, v in models.decoder.state_dict().items()}
    meta = {"format": FORMAT, "n_bits": str(models.n_bits), "resolution": str(models.resolution),
            "output": models.encoder.output, "strength": repr(float(models.encoder.strength)), **(extra or {})}
    return write_atomic(path, lambda p: save_file(tensors, str(p), metadata=meta))


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an fpbench fingerprint checkpoint (format {meta.get('format')!r})")
    return meta


def load_models(path: str | Path, *, n_bits: int | None = None, resolution: int | None = None,
                device: str | torch.device = "cpu") -> FingerprintModels:
    """Load encoder and decoder onto ``device`` (default CPU), checking the expected shape if given."""
    meta = read_metadata(path)
    got_bits, got_res = int(meta["n_bits"]), int(meta["resolution"])
    if n_bits is not None and n_bits != got_bits:
        raise CheckpointError(f"{path} holds a {got_bits}-bit fingerprint model but {n_bits} bits were "
                              "expected; use a checkpoint trained with the same fingerprint length")
    if resolution is not None and resolution != got_res:
        raise CheckpointError(f"{path} was trained at {got_res}x{got_res} but {resolution}x{resolution} was "
                              "expected; use a matching checkpoint (decoding resizes images, models do not)")
    state = load_file(str(path), device=str(device))
    encoder = FingerprintEncoder(got_bits, got_res, output=meta["output"]).to(device)
    decoder = FingerprintDecoder(got_bits, got_res).to(device)
    try:
        encoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("encoder.")})
        decoder.load_state_dict({k[8:]: v for k, v in state.items() if k.startswith("decoder.")})
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: tensors do not fit the architecture its metadata names: {exc}") from exc
    try:
        encoder.strength = float(meta.get("strength", "1.0"))  # checkpoints before calibration: as trained
    except ValueError as exc:
        raise CheckpointError(f"{path}: metadata 'strength' is not a number: {meta['strength']!r}") from exc
    return FingerprintModels(encoder.eval(), decoder.eval())


def save_json(path: str | Path, obj: dict) -> Path:
    return write_atomic(path, lambda p: p.write_text(json.dumps(obj, indent=2)))
