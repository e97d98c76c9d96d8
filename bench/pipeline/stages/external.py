"""Models their users bring (model cards, :mod:`fpbench.zoo`), in a run and in ``fpbench evaluate``.

A card without ``decoder:`` is decoded by the run's own fitted method: its fingerprint is registered beside
the zoo's, and it goes through the zoo's measurements (transfer, detection and attribution among every
registered fingerprint, FID against the run's reference, the image-attack grid; model attacks for a card
whose callable returns an ``nn.Module``). A card with ``decoder:`` brings its own decoder (the authors'
checkpoint, an fpbench one): the cards sharing a decoder form their own registry and are measured against
the run's real test photos (:func:`evaluate_cards`), which is also what ``fpbench evaluate`` does.

Images are never resized: a card whose resolution differs from its decoder's is refused before any work
(resizing is itself an attack on the fingerprint and would be measured as the model's robustness).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import torch

from fpbench.atomic import sha256_file
from fpbench.cache import content_key, derive_key
from fpbench.evaluation.measure import Registered, match_rows
from fpbench.fid import compute_fid
from fpbench.fingerprint.embedding import decode, to_uint8
from fpbench.methods import get_method_factory, make_method
from fpbench.pipeline.image_robustness import evaluate_image_attacks
from fpbench.pipeline.stages.codec import Codec
from fpbench.pipeline.stages.context import RunContext
from fpbench.registry import UnknownIdError
from fpbench.results import Row, row, rows_from_frame, to_frame
from fpbench.warnings import FpbenchWarning
from fpbench.zoo import ModelCardError, ModelEntry, load_model

VERSION = 1  # of sampling and measuring card models
RESERVED_IDS = ("data", "zoo")  # row models of a run that are not generators
#: methods whose decoder is the paper's network, so a ``decoder:`` checkpoint can be read for them
NETWORK_METHODS = ("artificial_fingerprint", "artificial_fingerprint_immunised")


def load_cards(paths: Sequence[str | Path], *, n_bits: int, resolution: int, methods: Sequence[str] | None = None,
               taken: Sequence[str] = ()) -> list[ModelEntry]:
    """Read and check every card (and its source) before any expensive work: ids unique and not among
    ``taken`` (the zoo's generators), the fingerprint length and resolution the run's, the method one the
    run fits (``methods``; None: any registered method). Every problem raises :class:`ModelCardError`."""
    entries: list[ModelEntry] = []
    for path in paths:
        entry = load_model(path, decoder_n_bits=n_bits)
        card, where = entry.card, f"model card {path}"
        if card.id in RESERVED_IDS or card.id in taken or card.id in [e.id for e in entries]:
            raise ModelCardError(f"{where}: id {card.id!r} is already used in this run (by "
                                 f"{'fpbench' if card.id in RESERVED_IDS else 'another model'}); give the card "
                                 "an id of its own")
        if card.resolution != resolution:
            raise ModelCardError(f"{where}: its images are {card.resolution}x{card.resolution} but the decoder "
                                 f"reads {resolution}x{resolution}; fpbench does not resize (resizing is an attack "
                                 "on the fingerprint): give images at the decoder's resolution, or run at the "
                                 "card's (a config with data.resolution and fingerprint.resolution "
                                 f"{card.resolution})")
        try:
            get_method_factory(card.method)
        except UnknownIdError as exc:  # its message has "did you mean" and the valid ids
            raise ModelCardError(f"{where}: {exc}") from None
        if methods is not None and card.decoder is None and card.method not in methods:
            raise ModelCardError(f"{where}: method {card.method!r} is not one this run fits "
                                 f"({', '.join(methods)}), so there is no decoder for it: add `--method "
                                 f"{card.method}`, or give the card a `decoder:` checkpoint")
        if card.decoder is not None and card.method not in NETWORK_METHODS:
            raise ModelCardError(f"{where}: `decoder:` checkpoints are read for the paper's networks "
                                 f"({', '.join(NETWORK_METHODS)}), not for {card.method!r}; drop `decoder:` to "
                                 "decode with the run's own fitted method")
        if card.folder is not None:
            entry.images()  # every file read and its size checked now, not after training
        entries.append(entry)
    return entries


def card_images(entry: ModelEntry, n: int, seed: int) -> torch.Tensor:
    """``n`` uint8 images of the model (a folder with fewer gives all it holds, with a warning)."""
    if entry.card.folder is not None:
        held = len(entry.images())
        if held < n:
            warnings.warn(f"model {entry.id!r}: its folder holds {held} images, fewer than the {n} a run "
                          f"samples of each generator; measured on those {held}", FpbenchWarning, stacklevel=2)
            n = held
    return to_uint8(entry.sample(n, seed))


def card_key(entry: ModelEntry, images: torch.Tensor) -> str:
    """What a card's measurements depend on: its images, its fingerprint and, for a generator, its weights."""
    inputs = {"images": content_key(images)}
    if entry.has_generator:
        inputs["weights"] = content_key(*entry.generator.state_dict().values())
    return derive_key("card", VERSION, {"fingerprint": entry.fingerprint, "method": entry.card.method}, **inputs)


def fingerprint_of(entry: ModelEntry) -> torch.Tensor:
    return torch.tensor(entry.card.fingerprint_bits, dtype=torch.float32)


def decoder_codec(entry: ModelEntry, device: str = "cpu") -> Codec:
    """A decode-only codec for a card's own decoder checkpoint, keyed by the file's bytes."""
    from fpbench.fingerprint.authors import load_decoder_file

    card = entry.card
    try:
        decoder = load_decoder_file(card.decoder, n_bits=card.n_bits, resolution=card.resolution)
    except (ValueError, OSError) as exc:
        raise ModelCardError(f"model card {card.path}: decoder {card.decoder}: {exc}") from exc
    return Codec(card.method, derive_key("decoder", VERSION, {"method": card.method}, file=sha256_file(card.decoder)),
                 _cannot_stamp, lambda images: decode(decoder, images, device=device))


def classical_codec(method_id: str, n_bits: int, resolution: int) -> Codec:
    """A decode-only codec of a method that needs no fitting, at its defaults (``fpbench evaluate``)."""
    method = make_method(method_id, n_bits=n_bits, resolution=resolution)
    return Codec(method_id, derive_key("method", VERSION, method.config), _cannot_stamp, method.decode,
                 instance=method)


def codec_groups(entries: Sequence[ModelEntry], device: str) -> list[tuple[Codec, list[ModelEntry]]]:
    """The cards grouped by the decoder that reads them: their ``decoder:`` checkpoint, or, for a method that
    needs no fitting, the method at its defaults (a learned method without a checkpoint is an error)."""
    groups: dict[tuple[str, str], tuple[Codec, list[ModelEntry]]] = {}
    for entry in entries:
        card = entry.card
        if card.decoder is None and getattr(get_method_factory(card.method), "learned", False):
            raise ModelCardError(f"model card {card.path}: method {card.method!r} is learned, so its decoder must "
                                 "come with the card: add `decoder: PATH` (the authors' .pth state dict or an "
                                 "fpbench .safetensors checkpoint); `fpbench run --model-card` can decode it "
                                 "with a decoder the run trains instead")
        group = (card.method, str(card.decoder.resolve()) if card.decoder else "")
        if group not in groups:
            codec = decoder_codec(entry, device) if card.decoder else classical_codec(card.method, card.n_bits,
                                                                                      card.resolution)
            groups[group] = (codec, [])
        groups[group][1].append(entry)
    return list(groups.values())


def _cannot_stamp(images: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    raise RuntimeError("a model card's decoder only decodes; nothing in an evaluation stamps")


def evaluate_cards(ctx: RunContext, codec: Codec, entries: Sequence[ModelEntry], negatives: torch.Tensor,
                   reference: torch.Tensor, grids: Sequence, *, n_samples: int, attack_samples: int) -> list[Row]:
    """Rows for models that share one decoder (``codec``), registered among themselves: bit accuracy,
    p-values, pass rate, detection and attribution (negatives: uint8 ``negatives``), FID against uint8
    ``reference``, and the image-attack ``grids`` on ``attack_samples`` images of each. Cached by the
    images, fingerprints, decoder and grids."""
    p = ctx.preset
    samples = {e.id: card_images(e, n_samples, p.seed + 1) for e in entries}
    fingerprints = {e.id: fingerprint_of(e) for e in entries}
    keys = {f"card:{e.id}": card_key(e, samples[e.id]) for e in entries}
    key = derive_key("cards", VERSION, {"grids": [(spec.id, spec.version, grid) for spec, grid in grids],
                                        "n": attack_samples, "alpha": p.alpha, "seed": p.seed,
                                        "fid": ctx.lineage.get("fid", "")},
                     decoder=codec.key, negatives=content_key(negatives), reference=content_key(reference), **keys)

    def measure() -> pd.DataFrame:
        reg = Registered(fingerprints)
        negative = reg.attribute(codec.decode(negatives), p.alpha)
        rows: list[Row] = []
        for model, images in samples.items():
            rows += match_rows(codec.decode(images), model=model, registered=reg, alpha=p.alpha, method=codec.method,
                               seed=p.seed, negatives=negative, world="closed")
            fid, extractor = compute_fid(images.float() / 255, reference.float() / 255, ctx.fid_extractor,
                                         device=ctx.device)
            rows.append(row(method=codec.method, model=model, metric="fid", value=fid, n=len(images), seed=p.seed,
                            extractor=extractor))
        if grids:
            sources = {m: s[:attack_samples].float() / 255 for m, s in samples.items()}
            rows += evaluate_image_attacks(sources, fingerprints, codec.decode, negatives.float() / 255, grids,
                                           alpha=p.alpha, seed=p.seed, method=codec.method, progress=ctx.progress,
                                           include_clean=False)
        return to_frame(rows)

    ctx.lineage[f"cards:{codec.key}"] = key
    return rows_from_frame(ctx.cache.rows("cards", key, measure))


def join_cards(ctx: RunContext, zoo, entries: Sequence[ModelEntry]):
    """The run's zoo (a :class:`fpbench.pipeline.stages.generators.Zoo`, or None without generators) with
    the cards decoded by the run's method added: registered, sampled, keyed, and in ``ctx.lineage["zoo"]``."""
    from fpbench.pipeline.stages.fingerprint import data_fingerprint
    from fpbench.pipeline.stages.generators import Zoo

    if not entries:
        return zoo
    p = ctx.preset
    zoo = zoo if zoo is not None else Zoo({"data": data_fingerprint(p)}, {}, {}, {}, [])
    registered = {tuple(fp.tolist()): m for m, fp in zoo.fingerprints.items()}
    for entry in entries:
        fp = fingerprint_of(entry)
        if tuple(fp.tolist()) in registered:
            warnings.warn(f"model {entry.id!r} has the same fingerprint as {registered[tuple(fp.tolist())]!r}: "
                          "attribution cannot tell them apart", FpbenchWarning, stacklevel=2)
        images = card_images(entry, p.zoo.n_samples, p.seed + 1)
        zoo.fingerprints[entry.id], zoo.samples[entry.id], zoo.external[entry.id] = fp, images, entry
        zoo.keys[entry.id] = card_key(entry, images)
    ctx.lineage["zoo"] = derive_key("zoo", VERSION, {"cards": [e.id for e in entries]}, zoo=ctx.lineage.get("zoo", ""),
                                    **{f"card:{e.id}": zoo.keys[e.id] for e in entries})
    return zoo
