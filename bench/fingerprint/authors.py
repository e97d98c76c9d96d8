"""Load (and export) the authors' own fingerprint encoder/decoder checkpoints.

Yu et al.'s code (GitHub ningyu1991/ArtificialGANFingerprints, networks in ``models.py``, saved by
``train.py`` as ``torch.save(net.state_dict(), "<exp>_encoder.pth" / "<exp>_decoder.pth")``: plain
state dicts, no wrapper dict, no DataParallel prefix) names its layers differently from
:mod:`fpbench.fingerprint.nets`. The networks are the same, so loading is a renaming:

==================  ================================  ===============================
network             authors' key (``.weight/.bias``)  fpbench name
==================  ================================  ===============================
StegaStampDecoder   ``decoder.{0,2,...,12}``          ``convs.{0,2,...,12}``
                    ``dense.0``, ``dense.2``          ``dense.0``, ``dense.2``
StegaStampEncoder   ``secret_dense``                  ``fingerprint``
                    ``conv1`` .. ``conv5``            ``down.0`` .. ``down.4``
                    ``up6`` .. ``up9``                ``up.0.conv`` .. ``up.3.conv``
                    ``conv6`` .. ``conv9``            ``merge.0`` .. ``merge.3``
                    ``conv10``, ``residual``          ``conv10``, ``to_rgb``
==================  ================================  ===============================

The decoder's last Linear gives ``n_bits`` and its first Linear (``128 * (R/32)**2`` inputs) the
resolution R. The encoder's weights do not depend on R, so its loader needs ``resolution``. Their
training script builds the encoder with a sigmoid output, loaded here as ``output="sigmoid"``.
Files are read with ``torch.load(weights_only=True)``: nothing is unpickled beyond tensors.
Export refuses what their code cannot run: a residual-output or calibrated (strength != 1) encoder,
and a decoder below 32x32 (fpbench's 16x16 decoder has the 32x32 one's shapes, so loads at either).
"""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import torch
from safetensors import safe_open
from torch import Tensor, nn

from fpbench.fingerprint.checkpoint import FORMAT, CheckpointError, load_models
from fpbench.fingerprint.nets import FingerprintDecoder, FingerprintEncoder

TORCH_SUFFIXES = (".pth", ".pt", ".bin")
DECODER_SUFFIXES = (*TORCH_SUFFIXES, ".safetensors")


def _with_params(layers: dict[str, str]) -> dict[str, str]:
    return {f"{a}.{p}": f"{b}.{p}" for a, b in layers.items() for p in ("weight", "bias")}


# authors' key -> fpbench key
DECODER_KEYS = _with_params({**{f"decoder.{i}": f"convs.{i}" for i in range(0, 14, 2)},
                             "dense.0": "dense.0", "dense.2": "dense.2"})
ENCODER_KEYS = _with_params({"secret_dense": "fingerprint",
                             **{f"conv{i + 1}": f"down.{i}" for i in range(5)},
                             **{f"up{i + 6}": f"up.{i}.conv" for i in range(4)},
                             **{f"conv{i + 6}": f"merge.{i}" for i in range(4)},
                             "conv10": "conv10", "residual": "to_rgb"})


def to_authors_state_dict(module: FingerprintEncoder | FingerprintDecoder) -> dict[str, Tensor]:
    """fpbench network -> state dict in the authors' key layout (``torch.save`` it for their code)."""
    if isinstance(module, FingerprintDecoder):
        if module.resolution < 32:
            raise ValueError(f"the authors' decoder cannot run at {module.resolution}x{module.resolution}: "
                             "its flatten size R*R*128/1024 assumes R >= 32")
        names = DECODER_KEYS
    elif isinstance(module, FingerprintEncoder):
        if module.output != "sigmoid" or module.strength != 1.0:  # their forward has neither
            raise ValueError(f"the authors' encoder has only the sigmoid output at strength 1; this one has "
                             f"output={module.output!r}, strength={module.strength}")
        names = ENCODER_KEYS
    else:
        raise TypeError(f"expected a FingerprintEncoder or FingerprintDecoder, got {type(module).__name__}")
    state = module.state_dict()
    return {theirs: state[ours] for theirs, ours in names.items()}


def load_authors_decoder(path: str | Path, *, n_bits: int | None = None,
                         resolution: int | None = None) -> FingerprintDecoder:
    """Load an authors' ``*_decoder.pth``; ``n_bits``/``resolution`` are inferred, or checked if given."""
    state = _read_torch(path)
    _check_kind(state, path, "decoder")
    _check_keys(state, DECODER_KEYS, path, "the authors' StegaStampDecoder state dict (models.py)")
    return _decoder_from(_rename(state, DECODER_KEYS), path, n_bits, resolution, DECODER_KEYS)


def load_authors_encoder(path: str | Path, *, resolution: int,
                         n_bits: int | None = None) -> FingerprintEncoder:
    """Load an authors' ``*_encoder.pth`` at ``resolution`` (required: no encoder weight depends on it;
    use the ``--image_resolution`` it was trained with, 128 for their CelebA and LSUN Bedroom models)."""
    state = _read_torch(path)
    _check_kind(state, path, "encoder")
    _check_keys(state, ENCODER_KEYS, path, "the authors' StegaStampEncoder state dict (models.py)")
    got_bits = state["secret_dense.weight"].shape[1]
    _check_bits(got_bits, n_bits, path)
    encoder = FingerprintEncoder(got_bits, resolution, output="sigmoid")
    _load_strict(encoder, _rename(state, ENCODER_KEYS), path, ENCODER_KEYS)
    return encoder.eval()


def load_decoder_file(path: str | Path, *, n_bits: int, resolution: int) -> FingerprintDecoder:
    """A model card's ``decoder:`` file: the authors' ``.pth``/``.pt``/``.bin``, or fpbench's
    ``.safetensors`` (a full fingerprint checkpoint, or a decoder-only state dict in fpbench's names)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in TORCH_SUFFIXES:
        return load_authors_decoder(path, n_bits=n_bits, resolution=resolution)
    if suffix != ".safetensors":
        raise CheckpointError(f"{path}: unknown decoder file type {path.suffix!r}; accepted suffixes: "
                              f"{', '.join(DECODER_SUFFIXES)} (.pth/.pt/.bin: the authors' torch.save "
                              "state dict; .safetensors: fpbench's own checkpoint)")
    _check_exists(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            full = (fh.metadata() or {}).get("format") == FORMAT
            state = {} if full else {k: fh.get_tensor(k) for k in fh.keys()}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{path} is not a readable safetensors file: {exc}") from exc
    if full:
        return load_models(path, n_bits=n_bits, resolution=resolution).decoder
    ours = {v: v for v in DECODER_KEYS.values()}
    _check_kind(state, path, "decoder")
    _check_keys(state, ours, path, "a FingerprintDecoder state dict (fpbench's names)")
    return _decoder_from(state, path, n_bits, resolution, ours)


def _check_exists(path: Path) -> None:
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")


def _read_torch(path: str | Path) -> dict[str, Tensor]:
    path = Path(path)
    _check_exists(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch.load fails with KeyError, EOFError, UnpicklingError... on other files
        refused = isinstance(exc, pickle.UnpicklingError) and "Weights only load failed" in str(exc)
        if refused and _written_by_torch(path):  # a torch.save file holding more than tensors
            raise CheckpointError(f"{path} holds pickled Python objects (e.g. a whole model saved with "
                                  "torch.save(model)), which fpbench does not unpickle; re-save it as "
                                  "torch.save(model.state_dict(), path)") from exc
        raise CheckpointError(f"{path} is not a PyTorch checkpoint (torch.load: {type(exc).__name__}); "
                              "expected a file written by torch.save(model.state_dict(), path)") from exc
    if isinstance(obj, dict) and {"state", "param_groups"} <= obj.keys():
        raise CheckpointError(f"{path} is an optimiser checkpoint (the authors' *_optim.pth); "
                              "pass the *_encoder.pth or *_decoder.pth file")
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, Tensor) for v in obj.values()):
        found = f"a dict with keys {sorted(map(str, obj))[:5]}" if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"{path} holds {found}, not a state dict of tensors; save the network's "
                              "own state dict: torch.save(model.state_dict(), path)")
    return obj


def _written_by_torch(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(4)
    return head == b"PK\x03\x04" or head[:1] == b"\x80"  # a zip archive, or the legacy format's pickle


def _check_kind(state: dict[str, Tensor], path: str | Path, want: str) -> None:
    """Encoder and decoder files share no key; say which one this is when it is the other."""
    kind = ("encoder" if {"secret_dense.weight", "fingerprint.weight"} & state.keys()
            else "decoder" if "dense.2.weight" in state else None)
    if kind is not None and kind != want:
        article = {"encoder": "an", "decoder": "a"}
        raise CheckpointError(f"{path}: this is {article[kind]} {kind} checkpoint, but {article[want]} {want} "
                              f"was expected; pass the {want} file (the authors save *_encoder.pth and "
                              "*_decoder.pth separately)")


def _check_keys(state: dict[str, Tensor], names: dict[str, str], path: str | Path, layout: str) -> None:
    missing, unexpected = sorted(names.keys() - state.keys()), sorted(state.keys() - names.keys())
    if missing or unexpected:
        raise CheckpointError(f"{path}: keys do not match the expected layout: missing {missing[:4]}"
                              f"{' ...' * (len(missing) > 4)}, unexpected {unexpected[:4]}"
                              f"{' ...' * (len(unexpected) > 4)}; expected {layout}, saved unchanged")


def _check_bits(got: int, want: int | None, path: str | Path) -> None:
    if want is not None and got != want:
        raise CheckpointError(f"{path} holds a {got}-bit fingerprint model but {want} bits were expected; "
                              "use a checkpoint trained with the same fingerprint length")


def _rename(state: dict[str, Tensor], names: dict[str, str]) -> dict[str, Tensor]:
    return {names[k]: v for k, v in state.items()}


def _decoder_from(state: dict[str, Tensor], path: str | Path, n_bits: int | None, resolution: int | None,
                  names: dict[str, str]) -> FingerprintDecoder:
    got_bits, dense_in = state["dense.2.weight"].shape[0], state["dense.0.weight"].shape[1]
    _check_bits(got_bits, n_bits, path)
    side = math.isqrt(dense_in // 128)
    if side * side * 128 != dense_in or side & (side - 1):
        raise CheckpointError(f"{path}: the decoder's first dense layer takes {dense_in} inputs, which fits "
                              "no square power-of-two resolution (expected 128 * (R/32)**2)")
    if resolution is None:
        resolution = 32 * side
    elif max(1, resolution // 32) != side:
        raise CheckpointError(f"{path} is a decoder for {32 * side}x{32 * side} images (its first dense layer "
                              f"takes {dense_in} inputs) but {resolution}x{resolution} was expected; use a "
                              "decoder trained at that resolution (decoding resizes images, models do not)")
    decoder = FingerprintDecoder(got_bits, resolution)
    _load_strict(decoder, state, path, names)
    return decoder.eval()


def _load_strict(net: nn.Module, state: dict[str, Tensor], path: str | Path, names: dict[str, str]) -> None:
    shown = {ours: theirs for theirs, ours in names.items()}
    expected = net.state_dict()
    wrong = [f"{shown[k]} {tuple(v.shape)} (fpbench needs {tuple(expected[k].shape)})"
             for k, v in state.items() if v.shape != expected[k].shape]
    if wrong:
        raise CheckpointError(f"{path}: tensor shapes do not fit fpbench's {type(net).__name__} (RGB images, "
                              f"the authors' widths): {'; '.join(wrong[:4])}")
    net.load_state_dict(state, strict=True)
