"""Stage 5: adaptive adversaries (secrecy, removal, overwriting, forgery).

The adversary trains its own models on the ``holdout`` photographs only (disjoint from the victim's
training and test data): a surrogate fingerprint encoder/decoder, a regeneration autoencoder and a
denoiser if an attack of the run needs one (:mod:`attacks.adaptive.adversary`). Every method of a run meets
it through the method protocol (its codec stamps and decodes; :func:`surrogate` is the adversary's own copy
of the scheme). Then, with
``attack_kind="adaptive"`` rows:

- removal (category ``removal``) on two sources, fingerprinted test photos (model ``data``) and the
  samples of one fingerprinted generator: ``bit_accuracy``, ``p_value``, ``log10_p_value``,
  ``pass_rate`` (own fingerprint, p < alpha), ``attack_success_rate`` (= 1 - pass_rate: the share of
  attacked images no longer detected as fingerprinted), ``psnr`` and ``ssim`` against the unattacked
  images. The pool the adversary averages over is other images with the same fingerprint
  (fingerprinted holdout photos; the generator's other samples);
- forgery (category ``forgery``) on clean test photos, victim = each source's model:
  ``attack_success_rate`` = false attribution rate (the victim's true decoder attributes the forged
  image to the victim, p < alpha / M over the M registered fingerprints), ``bit_accuracy`` and
  ``pass_rate`` against the victim's fingerprint, ``psnr``/``ssim`` against the innocent images;
- detectability (category ``detectability``, param = training images per class):
  ``detection_accuracy`` (balanced test set, threshold 0.5, binomial stderr) and ``auc`` (stderr by
  Hanley & McNeil 1982); 95% CI = value +- 1.96 stderr. Photos: trained on fingerprinted vs clean
  holdout photos (paired), tested on test photos (split by source photo). Generators: the
  fingerprinted generator's samples vs the clean control's (same architecture and seed), tested on
  the last ``adaptive.detect_test`` samples of each; a detector here may also pick up differences
  between two training runs, not only the fingerprint.

Also written: ``fingerprint_spectrum.npz`` (mean amplitude spectrum, fingerprinted minus clean; the report
draws ``plots/fingerprint_spectrum.png`` from it),
and, by ``reports.render_run`` from the rows, ``plots/adaptive_success_vs_psnr.png`` and
``tables/adaptive_best_success.{csv,md}`` (each attack's best success at PSNR >= 30 and >= 25 dB).

Throughput of the work this run did (cached cells add nothing), in ``ctx.notes`` and so the manifest:
``adaptive_throughput`` per attack, ``images_per_second`` (images attacked, decoded and measured, or
scored by a detector, per second) and, for an attack that optimises (PGD, a detector CNN),
``steps_per_second`` (its steps per second of the attack calls); ``adversary_steps_per_second``, the
adversary's training steps (surrogate codec, autoencoder and denoiser together) per second.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn

from fpbench.attacks.adaptive.adversary import (
    Adversary,
    AdversaryConfig,
    adversary_from_state,
    adversary_state,
    small_surrogate_config,
    train_adversary,
)
from fpbench.attacks.adaptive.denoiser import DenoiserConfig
from fpbench.attacks.adaptive.detectability import amplitude_spectrum
from fpbench.attacks.adaptive.regeneration import AutoencoderConfig
from fpbench.attacks.context import AttackContext
from fpbench.attacks.registry import AttackSpec, get_attack
from fpbench.cache import derive_key
from fpbench.evaluation.measure import fingerprint_rows
from fpbench.fingerprint.matching import attribute
from fpbench.methods import MethodError, make_method
from fpbench.methods.modules import MethodEncoder
from fpbench.metrics import psnr, ssim
from fpbench.pipeline.stages.codec import Codec
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.fingerprint import data_fingerprint, stamped_key
from fpbench.pipeline.stages.image_attacks import attack_grids
from fpbench.pipeline.stages.throughput import Timing, attack_steps, record
from fpbench.results import Row, row, rows_from_frame, to_frame
from fpbench.spectra import SPECTRA_FILE, write_spectra

KIND = "adaptive"
VERSION = 1  # of this stage's code (adversary training, measurements)
SSIM_SAMPLES = 100
THROUGHPUT = "adaptive_throughput"  # the ctx.notes (and manifest) key of this stage's throughput


@dataclass(frozen=True)
class Source:
    """Images carrying one fingerprint: ``images`` (float [0,1]) are attacked, ``pool`` (uint8) is what
    else the adversary observed with the same fingerprint; ``clean_*`` are the detectability negatives."""

    model: str
    fingerprint: torch.Tensor
    images: torch.Tensor
    pool: torch.Tensor
    detect_train: tuple[torch.Tensor, torch.Tensor] | None  # (marked, clean) uint8
    detect_test: tuple[torch.Tensor, torch.Tensor] | None


def adversary_config(ctx: RunContext) -> AdversaryConfig:
    """The adversary of the run; it trains a denoiser only if one of the run's attacks needs it."""
    p = ctx.preset
    surrogate = p.adaptive.adversary or small_surrogate_config(p.n_bits, p.resolution, seed=p.seed + 7919)
    wants_denoiser = any("denoiser" in get_attack(a).needs for a in p.adaptive.attacks)
    denoiser = DenoiserConfig(steps=p.adaptive.denoiser_steps, seed=p.seed + 15485863) if wants_denoiser else None
    return AdversaryConfig(surrogate, AutoencoderConfig(steps=p.adaptive.autoencoder_steps, seed=p.seed + 104729),
                           denoiser)


def adversary_models(ctx: RunContext, real: RealImages) -> tuple[Adversary, str]:
    """The adversary's surrogate codec, autoencoder and denoiser (trained on the holdout split, cached; the key
    holds the whole :class:`AdversaryConfig` and the data's key)."""
    cfg = adversary_config(ctx)
    if len(real.holdout) == 0:
        raise ValueError("the adaptive stage needs holdout images (the adversary's own data); the preset has "
                         "n_holdout=0 or the folder was too small to split")
    key = derive_key("adversary", VERSION, cfg, data=real.key)

    def train() -> dict[str, torch.Tensor]:
        denoiser = f", denoiser ({cfg.denoiser.steps} steps)" if cfg.denoiser is not None else ""
        ctx.log(f"training the adversary's surrogate codec ({cfg.surrogate.steps} steps), autoencoder "
                f"({cfg.autoencoder.steps} steps){denoiser} on {len(real.holdout)} holdout images")
        start = time.perf_counter()
        adv = train_adversary(real.holdout, cfg, device=ctx.device, progress=ctx.progress)
        _note_adversary_rate(ctx, cfg, time.perf_counter() - start)
        ctx.notes["adversary_activated_at"] = adv.activated_at
        return adversary_state(adv)

    return adversary_from_state(ctx.cache.tensors("adversary", key, train), cfg, device=ctx.device), key


def _note_adversary_rate(ctx: RunContext, cfg: AdversaryConfig, seconds: float) -> None:
    """The adversary's training steps (all its models together) per second, in ``ctx.notes``."""
    steps = cfg.surrogate.steps + cfg.autoencoder.steps + (cfg.denoiser.steps if cfg.denoiser is not None else 0)
    if steps > 0 and seconds > 0:
        ctx.notes["adversary_steps_per_second"] = round(steps / seconds, 2)


def _sources(ctx: RunContext, codec: Codec, real: RealImages, zoo) -> list[Source]:
    p = ctx.preset
    n, n_det = p.adaptive.samples, p.adaptive.detect_test
    fp = zoo.fingerprints["data"] if zoo is not None else data_fingerprint(p)
    key = stamped_key(fp, "holdout", encoder=codec.key, data=real.key)
    stamped_holdout = ctx.cache.tensors("stamped", key, lambda: {"images": codec.stamp(real.holdout, fp)})["images"]
    stamped_test = codec.stamp(real.test[:max(n, n_det)], fp)
    sources = [Source("data", fp, stamped_test[:n].float() / 255, stamped_holdout,
                      (stamped_holdout, real.holdout), (stamped_test[:n_det], real.test[:n_det]))]
    if zoo is None or not zoo.fingerprinted_ids:
        return sources
    target = p.adaptive.target or zoo.fingerprinted_ids[0]
    if target not in zoo.fingerprinted_ids:
        raise ValueError(f"adaptive.target {target!r} is not a fingerprinted generator of the zoo "
                         f"({', '.join(zoo.fingerprinted_ids)})")
    samples = zoo.samples[target]
    if len(samples) <= n:
        raise ValueError(f"the adaptive stage attacks {n} samples of {target} and needs more for the adversary's "
                         f"pool, but n_samples={len(samples)}")
    train = test = None
    if zoo.clean_ids:
        control = zoo.samples[zoo.clean_ids[0]]
        m = min(len(samples), len(control))
        if m <= n_det:
            raise ValueError(f"adaptive.detect_test={n_det} leaves no generator samples to train a detector on")
        train, test = (samples[:m - n_det], control[:m - n_det]), (samples[m - n_det:m], control[m - n_det:m])
    sources.append(Source(target, zoo.fingerprints[target], samples[:n].float() / 255, samples[n:], train, test))
    return sources


ADVERSARY_KEY = 7919  # the key of the adversary's own copy of a classical method (plus the run's seed)


def surrogate(ctx: RunContext, codec: Codec, adv: Adversary) -> tuple[nn.Module | None, nn.Module | None]:
    """The adversary's own copy of the victim's scheme, trained or keyed by itself: for the paper's method
    and every learned one, the surrogate networks it trained on its holdout photos (the paper's scheme; for
    a learned variant such as the immunised fingerprint, an adversary who does not train the variant); for
    a classical method, the same scheme at the victim's strength with the adversary's own key (if the
    method takes a ``key`` option), which has no decoder to differentiate: attacks that need
    ``surrogate_decoder`` skip it."""
    method = codec.instance
    if method is None or method.learned:
        return adv.encoder, adv.decoder
    p = ctx.preset
    try:
        own = make_method(codec.method, n_bits=p.n_bits, resolution=p.resolution, key=ADVERSARY_KEY + p.seed)
        if codec.strength is not None:
            own.strength = codec.strength
    except (MethodError, TypeError):
        return None, None
    return MethodEncoder(own), None


def _context(adv: Adversary, codec: Codec, surrogates: tuple, source: Source, pgd_steps: int,
             cnn_steps: int, device: str | None = None) -> AttackContext:
    """What the adversary has against ``source``: its own copy of the scheme (:func:`surrogate`), its
    autoencoder and denoiser, the device it computes on, the other images it observed, the detectability
    training pools, and the victim's decoder (the paper's networks), which only attacks that declare
    ``victim_decoder`` (the white-box upper bounds) are handed."""
    marked, clean = source.detect_train if source.detect_train is not None else (None, None)
    encoder, decoder = surrogates
    return AttackContext(surrogate_encoder=encoder, surrogate_decoder=decoder, autoencoder=adv.autoencoder,
                         denoiser=adv.denoiser, device=device,
                         victim_decoder=codec.models.decoder if codec.models is not None else None, pool=source.pool,
                         marked=marked, clean=clean, pgd_steps=pgd_steps, cnn_steps=cnn_steps)


def _stderr(values: torch.Tensor) -> float:
    v = values.double()
    return float(v.std() / math.sqrt(len(v))) if len(v) > 1 else math.nan


def _quality_rows(attacked: torch.Tensor, original: torch.Tensor, **common: object) -> list[Row]:
    q = psnr(attacked, original)
    s = ssim(attacked[:SSIM_SAMPLES], original[:SSIM_SAMPLES])
    finite = q[torch.isfinite(q)]
    return [row(metric="psnr", value=float(q.mean()), stderr=_stderr(finite) if len(finite) == len(q) else math.nan,
                n=len(q), **common),
            row(metric="ssim", value=float(s.mean()), stderr=_stderr(s), n=len(s), **common)]


def _removal_rows(spec: AttackSpec, value: float, severity: int, source: Source, attacked: torch.Tensor,
                  codec: Codec, alpha: float, seed: int) -> list[Row]:
    where = dict(attack=spec.id, attack_kind=KIND, param=float(value), severity=severity, attack_version=spec.version)
    bits = codec.decode(attacked)
    rows = fingerprint_rows(bits, source.fingerprint, model=source.model, alpha=alpha, method=codec.method, seed=seed,
                            where=where)
    passed = next(r for r in rows if r.metric == "pass_rate")
    common = dict(method=codec.method, model=source.model, seed=seed, **where)
    rows.append(row(metric="attack_success_rate", value=1 - passed.value, stderr=passed.stderr, n=passed.n, **common))
    return rows + _quality_rows(attacked, source.images, **common)


def _forgery_rows(spec: AttackSpec, value: float, severity: int, source: Source, forged: torch.Tensor,
                  innocent: torch.Tensor, codec: Codec, registered: torch.Tensor, victim: int, alpha: float,
                  seed: int) -> list[Row]:
    where = dict(attack=spec.id, attack_kind=KIND, param=float(value), severity=severity, attack_version=spec.version)
    bits = codec.decode(forged)
    rows = [r for r in fingerprint_rows(bits, source.fingerprint, model=source.model, alpha=alpha,
                                        method=codec.method, seed=seed, where=where)
            if r.metric in ("bit_accuracy", "pass_rate")]
    hit = (attribute(bits, registered, alpha).decision == victim).float()
    common = dict(method=codec.method, model=source.model, seed=seed, **where)
    rows.append(row(metric="attack_success_rate", value=float(hit.mean()), stderr=_stderr(hit), n=len(hit), **common))
    return rows + _quality_rows(forged, innocent, **common)


def auc_stderr(auc: float, n_pos: int, n_neg: int) -> float:
    """Hanley & McNeil (1982) standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    return math.sqrt(max(var, 0.0))


def detection_scores_rows(scores: torch.Tensor, labels: torch.Tensor, **common: object) -> list[Row]:
    """``detection_accuracy`` (threshold 0.5) and ``auc`` rows for scores of a balanced test set."""
    y = labels.long()
    acc = float(((scores > 0.5).long() == y).double().mean())
    n, n_pos = len(y), int(y.sum())
    auc = float(roc_auc_score(y.numpy(), scores.numpy()))
    return [row(metric="detection_accuracy", value=acc, stderr=math.sqrt(acc * (1 - acc) / n), n=n, **common),
            row(metric="auc", value=auc, stderr=auc_stderr(auc, n_pos, n - n_pos), n=n, **common)]


def run_adaptive(ctx: RunContext, codec: Codec, real: RealImages, zoo, attacks: tuple[str, ...] | None = None) -> None:
    """Append the adaptive rows of ``codec``'s method (``attacks``, default: the run's) to ``ctx.rows``;
    for the run's first method also write the fingerprint spectrum."""
    p = ctx.preset
    attacks = p.adaptive.attacks if attacks is None else attacks
    if not attacks:
        return
    adv, adv_key = adversary_models(ctx, real)
    sources = _sources(ctx, codec, real, zoo)
    surrogates = surrogate(ctx, codec, adv)
    registered_ids = list(zoo.fingerprints) if zoo is not None else ["data"]
    registered = torch.stack([zoo.fingerprints[m] for m in registered_ids]) if zoo is not None \
        else sources[0].fingerprint[None]
    innocent = real.test[:p.adaptive.samples].float() / 255
    new_rows: list[Row] = []
    for spec, grid in attack_grids(ctx, attacks):
        for source in sources:
            context = _context(adv, codec, surrogates, source, p.adaptive.pgd_steps, p.adaptive.cnn_steps, ctx.device)
            if context.missing(spec.needs):  # e.g. detectability on a source without clean negatives
                continue
            config = {"attack": (spec.id, spec.version, grid), "source": source.model, "alpha": p.alpha,
                      "seed": p.seed, "n": (p.adaptive.samples, p.adaptive.detect_test),
                      "steps": (p.adaptive.pgd_steps, p.adaptive.cnn_steps), "target": p.adaptive.target}
            key = ctx.key(KIND, VERSION, config, adversary=adv_key)

            def measure(spec=spec, grid=grid, source=source, context=context) -> pd.DataFrame:
                rows: list[Row] = []
                for severity, value in enumerate(grid):
                    ctx.log(f"adaptive {spec.id} {spec.param}={value:g} on {source.model}")
                    start = time.perf_counter()
                    # the category says what is measured: a detector's scores, a forgery or a removal
                    if spec.category == "detectability":
                        rows += _detectability_rows(spec, value, severity, source, p.seed, context, codec.method)
                        seconds = time.perf_counter() - start
                        images, attack_seconds = sum(map(len, source.detect_test)), seconds
                    elif spec.category == "forgery":
                        forged = spec(innocent, value, seed=p.seed, context=context)
                        attack_seconds = time.perf_counter() - start
                        rows += _forgery_rows(spec, value, severity, source, forged, innocent, codec,
                                              registered, registered_ids.index(source.model), p.alpha, p.seed)
                        images, seconds = len(innocent), time.perf_counter() - start
                    else:
                        attacked = spec(source.images, value, seed=p.seed, context=context)
                        attack_seconds = time.perf_counter() - start
                        rows += _removal_rows(spec, value, severity, source, attacked, codec, p.alpha, p.seed)
                        images, seconds = len(source.images), time.perf_counter() - start
                    record(ctx, THROUGHPUT, spec.id,
                           Timing(images, seconds, attack_steps(spec, value, context), attack_seconds))
                return to_frame(rows)

            new_rows += rows_from_frame(ctx.cache.rows(KIND, key, measure))
    ctx.rows += new_rows
    if codec.method == p.methods[0]:
        _write_outputs(ctx, to_frame(new_rows), sources)


def _detectability_rows(spec: AttackSpec, value: float, severity: int, source: Source, seed: int,
                        context: AttackContext, method: str) -> list[Row]:
    test_marked, test_clean = source.detect_test
    test = torch.cat([test_marked, test_clean]).float() / 255
    labels = torch.cat([torch.ones(len(test_marked)), torch.zeros(len(test_clean))])
    scores = spec(test, value, seed=seed, context=context)
    return detection_scores_rows(scores, labels, method=method, model=source.model, attack=spec.id, attack_kind=KIND,
                                 param=float(value), severity=severity, attack_version=spec.version, seed=seed)


def _write_outputs(ctx: RunContext, df: pd.DataFrame, sources: list[Source]) -> None:
    """The mean amplitude spectrum of fingerprinted minus clean images per source, saved beside
    results.csv as ``SPECTRA_FILE`` (plain arrays), from which the report draws its spectrum plot."""
    spectra = {}
    for source in sources:
        if source.detect_test is not None:
            marked, clean = source.detect_test
            spectra[source.model] = (amplitude_spectrum(marked) - amplitude_spectrum(clean)).numpy()
    if spectra:
        write_spectra(spectra, ctx.out / SPECTRA_FILE)


