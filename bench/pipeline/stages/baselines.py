"""The baseline stage: passive attribution baselines next to the fingerprint (paper Table 2 and its follow-up's
closed / open-world table), on the same clean test images and image-attack grid.

Protocol (issue #7):

- **Training data.** ``p.baselines.train_per_class`` real training crops, and as many samples of each
  training generator drawn with seed ``p.seed + 100`` (the evaluation samples ``zoo.samples`` use
  ``p.seed + 1``: training and test samples are disjoint draws). Clean control generators are ordinary
  generators to a passive baseline: they are fakes and their own attribution class.
- **Test data.** The held-out real test crops and ``zoo.samples``, the very samples the fingerprint is
  evaluated on. (With the built-in data, real test crops come from other photographs than the training
  crops, so a baseline's "real" class meets a content shift the generators' classes do not.)
- **Tasks.** Attribution: one classifier over ``"real"`` + one class per training generator.
  Detection is read off the same classifier: score = -log P(real) (ranks as 1 - P(real)), decision =
  argmax is not ``"real"``.
  A binary-only baseline (``wang2020``) is trained on real vs generated (fakes split evenly over the
  training generators) and does detection only.
- **Closed world** (``world="closed"``): trained on every generator of the zoo, tested on each of them.
- **Open world** (``world="open"``): the generators in ``p.baselines.unseen`` are held out of training.
  Detection: are the unseen generator's samples flagged as generated. Attribution (label rule): an
  unseen generator's sample counts as correctly attributed when the baseline names a *seen generator of
  the same architecture* (``zoo.configs[g].arch``): unseen ``dcgan-s2`` is right as ``dcgan-s1`` (or
  as the clean ``dcgan-clean``, also a DCGAN), wrong as ``real`` or ``resnet-s1``. An unseen
  architecture (no seen sibling) has no correct class: it gets detection rows only.
  The fingerprint needs no training on other instances (every model has its registered fingerprint), so
  its open-world rows (``method="artificial_fingerprint"``) are computed for each unseen fingerprinted
  model exactly as its closed-world rows in ``evaluate_zoo``.
- **Rows** (``method`` = baseline id, ``model`` = generator id, or ``"zoo"`` for all test generators
  pooled): ``detection_accuracy`` (balanced: (TPR + TNR) / 2 against the real test images), ``auc``,
  ``tpr_at_fpr`` (FPR 0.01 in the ``fpr`` column, or in ``param`` in a schema without it; threshold from
  the real test scores, conservative: at most floor(0.01 * n_real) real images score above it) and
  ``attribution_accuracy`` (generated samples only).
- **Robustness** (closed world): the baselines in ``p.baselines.attack_methods`` on the grids of
  ``p.baselines.attacks`` (the fingerprint's grids, via ``attack_grids``), first
  ``p.baselines.attack_samples`` test images of each source, each attacked like the fingerprint's
  sources (same seed, per source); ``detection_accuracy`` and ``attribution_accuracy`` per generator,
  ``attack_kind="image"``, ``param`` = attack value, ``severity`` = index in the grid.
- **Immunised** (``p.baselines.immunised``): each of those baselines is also retrained on an augmented
  copy of its training set, method id ``"<id>+immunised"``: every training image is, with probability
  1/2, replaced by its attacked version at a uniformly drawn (attack, grid value) of the evaluation grid.
  It is measured closed-world, clean and on the grid.

- **Training** (learned baselines): to convergence within the budget ``p.baselines.epochs`` (or the
  method's own, ``p.baselines.epochs_by_method``), with a
  validation split of the training images (``validation_fraction``, stratified by class; never a test
  image), early stopping on the validation loss and a cosine learning-rate schedule
  (``fpbench.baselines._torch_classifier``). Each fit's record (epochs, best epoch, steps, seconds, the
  validation curves, chance) goes into the manifest (``baseline_training``). A fit whose validation
  accuracy does not beat chance is no result: the run warns, naming it, and its world's rows are left out.

Every baseline's frame is cached (``ctx.cache.rows("baselines", key, ...)``) under a key of its
hyperparameters, the protocol settings, the data and the zoo (generator weights, configs,
fingerprints), the grid and the seed; the training records beside it (``<key>.training.json``).
"""

from __future__ import annotations

import json
import math
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from tqdm.auto import tqdm

from fpbench.atomic import write_json_atomic
from fpbench.baselines import BASELINES
from fpbench.evaluation.measure import Registered, match_rows
from fpbench.evaluation.operating_points import tpr_at_fpr
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import decode, to_uint8
from fpbench.generators import sample
from fpbench.pipeline.config import BaselineConfig
from fpbench.pipeline.executors import RayPool, unordered
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.fingerprint import METHOD as FINGERPRINT_METHOD
from fpbench.pipeline.stages.generators import Zoo, negative_pool
from fpbench.pipeline.stages.image_attacks import attack_grids
from fpbench.registry import did_you_mean
from fpbench.results import COLUMNS, Row, row, rows_from_frame, to_frame
from fpbench.warnings import FpbenchWarning

PROTOCOL_VERSION = 3  # in every cache key: bump when the protocol above changes (2: training to convergence; 3: channels-last CNNs)
REAL = "real"
GENERATED = "generated"
IMMUNISED = "+immunised"
FPR = 0.01
TRAIN_SEED_OFFSET = 100  # training samples: sample(G, n, seed=p.seed + 100)
ZOO = "zoo"
# The operating point of tpr_at_fpr rows: in the ``fpr`` column where the results schema has one, else in
# ``param`` (the schema before that column existed).
_AT_FPR = {"fpr": FPR}
# Estimator settings the stage sets when the estimator has them; the rest stay at their defaults.
_NOT_IN_KEY = ("verbose", "device", "num_threads")


@dataclass(frozen=True)
class Split:
    """One training world: the generators seen in training, those tested, and for each tested
    generator the labels that count as a correct attribution (empty: no attribution rows)."""

    world: str
    seen: tuple[str, ...]
    tested: tuple[str, ...]
    correct: dict[str, tuple[str, ...]] = field(default_factory=dict)


def closed_split(zoo: Zoo) -> Split:
    ids = tuple(zoo.generators)
    return Split("closed", ids, ids, {g: (g,) for g in ids})


def open_split(zoo: Zoo, unseen: Sequence[str]) -> Split | None:
    """Hold ``unseen`` out of training; correct attribution = a seen generator of the same architecture."""
    if not unseen:
        return None
    missing = [g for g in unseen if g not in zoo.generators]
    if missing:
        raise ValueError(f"baselines.unseen names generators {missing} that are not in the zoo {list(zoo.generators)}")
    seen = tuple(g for g in zoo.generators if g not in unseen)
    if not seen:
        raise ValueError("baselines.unseen holds out every generator: the open world needs at least one seen one")
    correct = {u: tuple(g for g in seen if zoo.configs[g].arch == zoo.configs[u].arch) for u in unseen}
    return Split("open", seen, tuple(unseen), correct)


def make_estimator(baseline_id: str, ctx: RunContext, method: str | None = None):
    """The registered estimator with ``method``'s epoch budget (default: the baseline's own;
    ``BaselineConfig.epochs_of``), the run's seed and device."""
    clf = BASELINES.get(baseline_id)()
    wanted = {"epochs": ctx.preset.baselines.epochs_of(method or baseline_id), "random_state": ctx.seed,
              "device": ctx.device, "verbose": ctx.progress}
    return clf.set_params(**{k: v for k, v in wanted.items() if k in clf.get_params()})


def is_multiclass(clf) -> bool:
    return bool(clf.__sklearn_tags__().classifier_tags.multi_class)


class TrainingSamples:
    """Training images per class, uint8 Nx3xHxW: real crops and generator samples drawn on first use."""

    def __init__(self, real: RealImages, zoo: Zoo, n: int, seed: int) -> None:
        self.real, self.zoo, self.n, self.seed = real.train[:n], zoo, n, seed
        self._drawn: dict[str, torch.Tensor] = {}

    def of(self, generator_id: str) -> torch.Tensor:
        if generator_id not in self._drawn:
            G = self.zoo.generators[generator_id]
            self._drawn[generator_id] = to_uint8(sample(G, self.n, seed=self.seed + TRAIN_SEED_OFFSET))
        return self._drawn[generator_id]

    def dataset(self, seen: Sequence[str], multiclass: bool) -> tuple[torch.Tensor, np.ndarray]:
        """(X, y): real + each seen generator as its own class, or real vs an equal number of fakes
        split evenly over the seen generators (binary detectors)."""
        n_real = len(self.real)
        if multiclass:
            parts = [self.of(g) for g in seen]
            labels = [g for g in seen for _ in range(self.n)]
        else:
            sizes = [n_real // len(seen) + (i < n_real % len(seen)) for i in range(len(seen))]
            parts = [self.of(g)[:k] for g, k in zip(seen, sizes, strict=True)]
            labels = [GENERATED] * sum(sizes)
        return torch.cat([self.real, *parts]), np.array([REAL] * n_real + labels)


def immunise(images: torch.Tensor, grids: list, seed: int) -> torch.Tensor:
    """Training augmentation: each image (float Nx3xHxW in [0,1]) is kept with probability 1/2, else
    attacked at a uniformly drawn (attack, value) of ``grids``; returns a new float tensor."""
    levels = [(spec, value) for spec, grid in grids for value in grid]
    choice = torch.randint(0, 2 * len(levels), (len(images),), generator=torch.Generator().manual_seed(seed))
    out = images.clone()
    for i, (spec, value) in enumerate(levels):
        idx = (choice == i).nonzero().flatten()
        if len(idx):
            out[idx] = spec(images[idx], value, seed=seed + i).clamp(0, 1)
    return out


def predict(clf, images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(predicted labels, generated-score) for uint8 or float [0,1] images. The score is -log P(real):
    it ranks like 1 - P(real) but does not round confident fakes to one tied value."""
    proba = clf.predict_proba(images)
    real_col = int(np.flatnonzero(clf.classes_ == REAL)[0])
    return clf.classes_[np.argmax(proba, axis=1)], -np.log(np.maximum(proba[:, real_col], np.finfo(float).tiny))


def _stderr(rate: float, n: int) -> float:
    return math.sqrt(rate * (1 - rate) / n) if n > 0 else math.nan


@dataclass(frozen=True)
class _Predictions:
    labels: np.ndarray
    scores: np.ndarray


def _measure(method: str, model: str, positives: _Predictions, negatives: _Predictions,
             correct: tuple[str, ...] | None, *, ranking: bool, common: dict) -> list[Row]:
    """Detection (and, if ``correct`` is given, attribution) rows of one generator (or the pool)."""
    n, n_neg = len(positives.labels), len(negatives.labels)
    tpr = float(np.mean(positives.labels != REAL))
    tnr = float(np.mean(negatives.labels == REAL))
    se = math.sqrt(_stderr(tpr, n) ** 2 + _stderr(tnr, n_neg) ** 2) / 2
    out = [row(method=method, model=model, metric="detection_accuracy", value=(tpr + tnr) / 2, stderr=se,
               n=n + n_neg, **common)]
    if ranking:
        y = np.r_[np.ones(n), np.zeros(n_neg)]
        out.append(row(method=method, model=model, metric="auc", n=n + n_neg, **common,
                       value=float(roc_auc_score(y, np.r_[positives.scores, negatives.scores]))))
        rate = tpr_at_fpr(positives.scores, negatives.scores, FPR)
        out.append(row(method=method, model=model, metric="tpr_at_fpr", value=rate, stderr=_stderr(rate, n), n=n,
                       **_AT_FPR, **common))
    if correct:
        acc = float(np.isin(positives.labels, correct).mean())
        out.append(row(method=method, model=model, metric="attribution_accuracy", value=acc,
                       stderr=_stderr(acc, n), n=n, **common))
    return out


def _predict_sources(clf, real: torch.Tensor, samples: dict[str, torch.Tensor]) -> dict[str, _Predictions]:
    """Predict real + every generator's images in one call; returns predictions per source ("real" too)."""
    sources = {REAL: real, **samples}
    labels, scores = predict(clf, torch.cat([x.float() / 255 if x.dtype == torch.uint8 else x
                                             for x in sources.values()]))
    out, start = {}, 0
    for name, x in sources.items():
        out[name] = _Predictions(labels[start:start + len(x)], scores[start:start + len(x)])
        start += len(x)
    return out


def clean_rows(method: str, clf, split: Split, real: RealImages, zoo: Zoo, seed: int) -> list[Row]:
    """Clean detection/attribution rows of one fitted baseline on one world's tested generators."""
    multiclass = is_multiclass(clf)
    preds = _predict_sources(clf, real.test, {g: zoo.samples[g] for g in split.tested})
    common = dict(seed=seed, world=split.world)
    rows: list[Row] = []
    for g in split.tested:
        rows += _measure(method, g, preds[g], preds[REAL], split.correct.get(g) if multiclass else None,
                         ranking=True, common=common)
    if split.world == "closed":
        pooled = _Predictions(np.concatenate([preds[g].labels for g in split.tested]),
                              np.concatenate([preds[g].scores for g in split.tested]))
        rows += _measure(method, ZOO, pooled, preds[REAL], None, ranking=True, common=common)
        if multiclass:  # pooled attribution: each sample must be named as its own generator
            right = np.concatenate([np.isin(preds[g].labels, split.correct[g]) for g in split.tested])
            acc = float(right.mean())
            rows.append(row(method=method, model=ZOO, metric="attribution_accuracy", value=acc,
                            stderr=_stderr(acc, len(right)), n=len(right), **common))
    return rows


def attack_rows(method: str, clf, grids: list, real: RealImages, zoo: Zoo, n: int, seed: int,
                progress: bool) -> list[Row]:
    """Closed-world detection/attribution rows of one fitted baseline over the image-attack grid."""
    multiclass = is_multiclass(clf)
    sources = {REAL: real.test[:n].float() / 255, **{g: zoo.samples[g][:n].float() / 255 for g in zoo.generators}}
    levels = [(spec, severity, value) for spec, grid in grids for severity, value in enumerate(grid)]
    rows: list[Row] = []
    for spec, severity, value in tqdm(levels, desc=f"{method} image attacks", unit="level", disable=not progress):
        identity = spec.neutral is not None and value == spec.neutral
        attacked = {k: x if identity else spec(x, value, seed=seed).clamp(0, 1) for k, x in sources.items()}
        preds = _predict_sources(clf, attacked.pop(REAL), attacked)
        common = dict(seed=seed, world="closed", attack=spec.id, attack_kind="image", param=float(value),
                      severity=severity, attack_version=spec.version)
        for g in zoo.generators:
            rows += _measure(method, g, preds[g], preds[REAL], (g,) if multiclass else None, ranking=False,
                             common=common)
    return rows


def _fit(ctx: RunContext, clf, method: str, split: Split, data: TrainingSamples, grids: list | None):
    X, y = data.dataset(split.seen, is_multiclass(clf))
    if grids is not None:
        X = immunise(X.float() / 255, grids, ctx.seed)
    ctx.log(f"baseline {method}: fitting the {split.world} world on {len(X)} images "
            f"({len(set(y.tolist()))} classes)")
    return clf.fit(X, y)


def _fit_job(clf, X: torch.Tensor, y: np.ndarray, threads: int):
    """One baseline fit as a Ray task: the estimator fitted on ``threads`` torch threads."""
    torch.set_num_threads(threads)
    return clf.fit(X, y)


def _fit_on_ray(ctx: RunContext, plans: list, data: TrainingSamples) -> dict[tuple[str, str], object]:
    """Every baseline fit whose rows are not cached, as Ray tasks (``executor: ray``): ``(method, world)`` ->
    the fitted estimator, the same fit a local run with ``--threads cpus_per_task`` makes. Measuring stays
    here, in the driver."""
    jobs = []
    for baseline_id, method, augment, worlds, _, key in plans:
        if ctx.cache.enabled and ctx.cache.path("baselines", key, "csv").exists():
            continue
        for split in worlds:
            def make_args(baseline_id=baseline_id, method=method, augment=augment, split=split):
                clf = make_estimator(baseline_id, ctx, method)
                if "verbose" in clf.get_params():  # a worker's progress bars go nowhere
                    clf.set_params(verbose=False)
                X, y = data.dataset(split.seen, is_multiclass(clf))
                if augment is not None:
                    X = immunise(X.float() / 255, augment, ctx.seed)
                return clf, X, y, pool.threads
            jobs.append(((method, split.world), make_args))
    if not jobs:
        return {}
    pool = RayPool(ctx.preset.executor, ctx.device)
    ctx.log(f"fitting {len(jobs)} baselines as Ray tasks of {pool.threads} CPU(s), {pool.slots} at once: "
            + ", ".join(f"{m} ({w} world)" for (m, w), _ in jobs))
    return dict(unordered(pool, _fit_job, jobs, desc="baselines", unit="fit", total=len(jobs),
                          progress=ctx.progress))


def training_record(clf) -> dict | None:
    """What a learned baseline's fit did (None for one without a validation curve)."""
    if not getattr(clf, "val_loss_curve_", None):
        return None
    return {"epochs": len(clf.loss_curve_), "best_epoch": clf.best_epoch_, "budget_epochs": clf.epochs,
            "steps": clf.n_steps_, "seconds": round(clf.fit_seconds_, 2), "chance": round(clf.val_chance_, 4),
            "learned": clf.learned_, "loss": [round(v, 5) for v in clf.loss_curve_],
            "val_loss": [round(v, 5) for v in clf.val_loss_curve_],
            "val_accuracy": [round(v, 5) for v in clf.val_accuracy_curve_]}


def _report_training(ctx: RunContext, records: dict[str, dict]) -> None:
    """Put the training records in the manifest and warn about every fit that did not learn."""
    for name, record in records.items():
        ctx.notes.setdefault("baseline_training", {})[name] = record
        if record["learned"] is False:
            best = record["val_accuracy"][max(record["best_epoch"], 1) - 1]
            warnings.warn(f"baseline {name} did not learn: validation accuracy {best:.3f} against chance "
                          f"{record['chance']:.3f} after {record['epochs']} epochs; its rows are left out of the "
                          "results (more training images or epochs: baselines.train_per_class, baselines.epochs)",
                          FpbenchWarning, stacklevel=2)


def fingerprint_open_rows(ctx: RunContext, models: FingerprintModels, real: RealImages, zoo: Zoo,
                          unseen: Sequence[str]) -> list[Row]:
    """The fingerprint's open-world rows: computed for each unseen fingerprinted model as in its closed
    world (registered fingerprints of the whole zoo; negatives = real test images + clean controls)."""
    p = ctx.preset
    reg = Registered(zoo.fingerprints)
    negatives = reg.attribute(decode(models.decoder, negative_pool(real, zoo), device=ctx.device), p.alpha)
    rows = []
    for g in unseen:
        if g not in zoo.fingerprints:
            continue
        measured = match_rows(decode(models.decoder, zoo.samples[g], device=ctx.device), model=g, registered=reg,
                              alpha=p.alpha, method=FINGERPRINT_METHOD, seed=p.seed, negatives=negatives, world="open")
        rows += [r for r in measured if r.metric in ("attribution_accuracy", "detection_accuracy")]
    return rows


def budget_problems(baselines: BaselineConfig) -> list[str]:
    """Entries of ``baselines.epochs_by_method`` that name no method of the stage, one sentence each: a
    baseline id of ``baselines.methods`` or ``<id>+immunised`` of an immunised one are valid."""
    valid = list(baselines.methods)
    if baselines.immunised:
        valid += [m + IMMUNISED for m in baselines.attack_methods]
    problems = []
    for method in baselines.epochs_by_method:
        if method in valid:
            continue
        known = method.removesuffix(IMMUNISED) in BASELINES
        why = "is not a baseline of this run" if known else "is not a baseline"
        problems.append(f"baselines.epochs_by_method: {method!r} {why}.{did_you_mean(method, valid)} Set it for one "
                        f"of {', '.join(valid) or 'none (baselines.methods is empty)'}, or drop the entry.")
    return problems


def _check_preset(ctx: RunContext) -> None:
    p = ctx.preset
    problems = budget_problems(p.baselines)
    if problems:
        raise ValueError(" ".join(problems))
    for baseline_id in (*p.baselines.methods, *p.baselines.attack_methods):
        BASELINES.get(baseline_id)  # a typo fails with "did you mean"
    stray = sorted(set(p.baselines.attack_methods) - set(p.baselines.methods))
    if stray:
        raise ValueError(f"baselines.attack_methods {stray} are not in the preset's baselines {p.baselines.methods}")
    extra = sorted(set(p.baselines.attacks) - set(p.image_attacks.attacks))
    if extra:
        raise ValueError(f"baselines.attacks {extra} are not in image_attacks: the baselines are measured on the "
                         "fingerprint's grid, so each attack must be one of the preset's image attacks")
    if p.baselines.train_per_class < 1 or p.baselines.attack_samples < 1:
        raise ValueError("baselines.train_per_class and baselines.attack_samples must be >= 1")


def run_baselines(ctx: RunContext, models: FingerprintModels, real: RealImages, zoo: Zoo) -> None:
    """Train and measure every baseline of ``ctx.preset.baselines.methods``; append its rows to ``ctx.rows``."""
    p = ctx.preset
    if not p.baselines.methods:
        return
    _check_preset(ctx)
    if REAL in zoo.generators:
        raise ValueError(f"a generator may not be called {REAL!r}: that is the baselines' real class")
    closed, opened = closed_split(zoo), open_split(zoo, p.baselines.unseen)
    grids = attack_grids(ctx, p.baselines.attacks) if p.baselines.attacks else []
    grid_key = [(spec.id, spec.version, grid) for spec, grid in grids]
    n = p.baselines.train_per_class
    data = TrainingSamples(real, zoo, n, p.seed)
    splits = [s for s in (closed, opened) if s is not None]
    plans = []
    for baseline_id in p.baselines.methods:
        on_grid = baseline_id in p.baselines.attack_methods and bool(grids)
        variants = [(baseline_id, None)] + ([(baseline_id + IMMUNISED, grids)] if on_grid and p.baselines.immunised else [])
        for method, augment in variants:
            params = {k: v for k, v in make_estimator(baseline_id, ctx, method).get_params().items()
                      if k not in _NOT_IN_KEY}
            worlds = splits if augment is None else [closed]
            key = ctx.key("baselines", PROTOCOL_VERSION, {
                "columns": COLUMNS, "method": method, "baseline": baseline_id, "params": params, "n": n,
                "worlds": worlds, "grid": (grid_key, p.baselines.attack_samples) if on_grid else (), "seed": p.seed})
            plans.append((baseline_id, method, augment, worlds, on_grid, key))
    fitted = _fit_on_ray(ctx, plans, data) if p.executor.kind == "ray" else {}
    for baseline_id, method, augment, worlds, on_grid, key in plans:
        records: dict[str, dict] = {}

        def compute(method=method, augment=augment, worlds=worlds, on_grid=on_grid,
                    baseline_id=baseline_id, records=records) -> pd.DataFrame:
            start = time.perf_counter()
            rows: list[Row] = []
            for split in worlds:
                clf = fitted.pop((method, split.world), None)
                if clf is None:
                    clf = _fit(ctx, make_estimator(baseline_id, ctx, method), method, split, data, augment)
                record = training_record(clf)
                if record is not None:
                    records[f"{method}/{split.world}"] = record
                    if record["learned"] is False:
                        continue
                rows += clean_rows(method, clf, split, real, zoo, p.seed)
                if split.world == "closed" and on_grid:
                    rows += attack_rows(method, clf, grids, real, zoo, p.baselines.attack_samples, p.seed,
                                        ctx.progress)
            ctx.notes.setdefault("baseline_seconds", {})[method] = round(time.perf_counter() - start, 2)
            return to_frame(rows)

        ctx.rows += rows_from_frame(ctx.cache.rows("baselines", key, compute))
        sidecar = ctx.cache.path("baselines", key, "training.json")
        if records and ctx.cache.enabled:
            write_json_atomic(sidecar, records)
        elif not records and sidecar.is_file():  # a cached frame: its fits' records beside it
            records = json.loads(sidecar.read_text(encoding="utf-8"))
        _report_training(ctx, records)
    if opened is not None:
        key = ctx.key("baselines", PROTOCOL_VERSION, {"columns": COLUMNS, "method": FINGERPRINT_METHOD,
                                                      "world": opened, "alpha": p.alpha, "seed": p.seed})
        ctx.rows += rows_from_frame(ctx.cache.rows("baselines", key, lambda: to_frame(
            fingerprint_open_rows(ctx, models, real, zoo, opened.tested))))
