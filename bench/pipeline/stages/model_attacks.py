"""Stage 4: model-level attacks on released generators. For every attack x severity the attacked
generator is sampled and measured: fingerprint bit accuracy, pass rate, attribution, and FID, so a
reader sees whether the fingerprint dies before or after the model itself is ruined. Model cards whose
callable returns an ``nn.Module`` are targets too; an attack that needs what a card lacks (its training
recipe, a sibling to merge with) is skipped for it with a warning."""

from __future__ import annotations

import warnings

from fpbench.attacks.context import SETTING_FIELDS, AttackContext
from fpbench.evaluation.measure import Registered, match_rows
from fpbench.fid import compute_fid
from fpbench.fingerprint.embedding import to_uint8
from fpbench.generators import sample
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.generators import Zoo
from fpbench.pipeline.stages.image_attacks import attack_grids
from fpbench.results import row, rows_from_frame, to_frame
from fpbench.warnings import FpbenchWarning

VERSION = 1  # of this stage's measurement code


def _context(target: str, zoo: Zoo, real: RealImages, device: str, finetune_steps: int) -> AttackContext:
    """Everything this stage can offer an attack on ``target``: clean real training images and the
    generator's training config (to fine-tune with), the device, and a second fingerprinted generator of the
    same architecture (to merge with) and a clean control of the same architecture (a model soup's other
    ingredient) when the zoo has them. Each attack takes what it declared."""
    if target not in zoo.configs:  # a card's generator: no training recipe, no sibling to merge with
        return AttackContext(data=real.train, device=device, finetune_steps=finetune_steps)
    arch = zoo.configs[target].arch
    others = [g for g in zoo.fingerprinted_ids if g != target and zoo.configs[g].arch == arch]
    clean = [g for g in zoo.clean_ids if g in zoo.configs and zoo.configs[g].arch == arch]
    return AttackContext(data=real.train, gan_config=zoo.configs[target], device=device, finetune_steps=finetune_steps,
                         other_model=zoo.generators[others[0]] if others else None,
                         clean_model=zoo.generators[clean[0]] if clean else None)


def _generator(zoo: Zoo, target: str):
    return zoo.generators[target] if target in zoo.generators else zoo.external[target].generator


def run_model_attacks(ctx: RunContext, codec, real: RealImages, zoo: Zoo, *, skip_unmet: bool = False,
                      attacks: tuple[str, ...] | None = None) -> None:
    """Every model attack (``attacks``, default: the run's) on every target. An attack whose needs the zoo cannot meet (weight averaging
    without a second generator of the architecture) is an error, or with ``skip_unmet`` (a method's
    reduced zoo) skipped with a warning that names it."""
    p = ctx.preset
    registered = Registered(zoo.fingerprints)
    targets = [t for t in p.model_attacks.targets if t in zoo.generators] or zoo.fingerprinted_ids[:1]
    cards = [g for g, entry in zoo.external.items() if entry.has_generator]
    targets += cards
    reference = real.reference.float() / 255
    grids = attack_grids(ctx, p.model_attacks.attacks if attacks is None else attacks)
    for target in targets:
        context = _context(target, zoo, real, ctx.device, p.model_attacks.finetune_steps)
        for spec, grid in grids:
            try:  # before any work: e.g. no second generator of the architecture to merge with
                spec.check_context(context)
            except ValueError as exc:
                message = f"model attack on {target}: {exc} (the zoo has no such thing for {target})"
                if not skip_unmet and target not in cards:
                    raise ValueError(message) from None
                warnings.warn(f"{codec.method}: skipped {message}", FpbenchWarning, stacklevel=2)
                continue
            for severity, value in enumerate(grid):
                settings = {f: getattr(context, f) for f in SETTING_FIELDS if f in spec.needs + spec.optional}
                key = ctx.key("model_attack", VERSION, {"attack": (spec.id, spec.version, value), "target": target,
                                                        "n_samples": p.zoo.n_samples, "alpha": p.alpha, "seed": p.seed,
                                                        **settings})

                def measure(spec=spec, value=value, severity=severity, context=context, target=target) -> object:
                    ctx.log(f"model attack {spec.id} {spec.param}={value:g} on {target}")
                    attacked = spec(_generator(zoo, target), value, seed=p.seed, context=context)
                    images = to_uint8(sample(attacked, p.zoo.n_samples, seed=p.seed + 1))
                    bits = codec.decode(images)
                    where = dict(attack=spec.id, attack_kind="model", param=float(value), severity=severity,
                                 attack_version=spec.version)
                    rows = match_rows(bits, model=target, registered=registered, alpha=p.alpha, method=codec.method,
                                      seed=p.seed, where=where)
                    fid, extractor = compute_fid(images.float() / 255, reference, ctx.fid_extractor,
                                                 device=ctx.device)
                    rows.append(row(method=codec.method, model=target, metric="fid", value=fid, n=len(images),
                                    seed=p.seed, extractor=extractor, **where))
                    return to_frame(rows)

                df = ctx.cache.rows("model_attack", key, measure)
                ctx.rows += rows_from_frame(df)
