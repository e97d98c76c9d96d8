"""Checks a run config before any stage runs: every id it names exists, every grid belongs to an attack
the run measures and fits that attack's domain, every generator it refers to is in the zoo; and, once the
data is loaded, that it holds as many images as every stage draws (:func:`data_problems`). All problems
are reported at once, each with what to change."""

from __future__ import annotations

from dataclasses import dataclass

from fpbench.attacks.registry import ATTACKS, AttackKind, load_all
from fpbench.baselines import BASELINES
from fpbench.methods import MethodError, all_methods, make_method
from fpbench.pipeline.config import ConfigError, RunConfig
from fpbench.pipeline.executors import executor_problems
from fpbench.pipeline.stages.baselines import budget_problems
from fpbench.pipeline.stages.data import folder_sizes
from fpbench.registry import did_you_mean

SECTIONS = {"image_attacks": AttackKind.IMAGE, "model_attacks": AttackKind.MODEL, "adaptive": AttackKind.ADAPTIVE}


def config_problems(config: RunConfig) -> list[str]:
    """What is wrong with ``config``, one sentence per problem (empty when it can run)."""
    load_all()
    problems = []
    for section, kind in SECTIONS.items():
        for attack_id in getattr(config, section).attacks:
            if attack_id not in ATTACKS:
                problems.append(f"{section}.attacks: unknown attack {attack_id!r}."
                                f"{did_you_mean(attack_id, ATTACKS.ids())} See `fpbench attacks --kind {kind.value}`.")
            elif ATTACKS.get(attack_id).kind != kind:
                other = ATTACKS.get(attack_id).kind.value
                problems.append(f"{section}.attacks: {attack_id!r} is a {other} attack; "
                                f"move it to {next(s for s, k in SECTIONS.items() if k.value == other)}.attacks")
    in_run = set(config.attack_ids())
    for attack_id, grid in config.evaluation.grids.items():
        if attack_id not in ATTACKS:
            problems.append(f"a grid (evaluation.grids or --grid) names unknown attack {attack_id!r}."
                            f"{did_you_mean(attack_id, ATTACKS.ids())}")
        elif attack_id not in in_run:
            kind = ATTACKS.get(attack_id).kind.value
            section = next(s for s, k in SECTIONS.items() if k.value == kind)
            problems.append(f"a grid (evaluation.grids or --grid) is given for {attack_id!r}, which this run does not "
                            f"measure: add it to {section}.attacks or drop the grid")
        else:
            try:
                ATTACKS.get(attack_id).check_grid(grid)
            except ValueError as exc:
                problems.append(f"evaluation.grids.{attack_id}: {exc}")
    for baseline_id in (*config.baselines.methods, *config.baselines.attack_methods):
        if baseline_id not in BASELINES:
            problems.append(f"baselines: unknown baseline {baseline_id!r}.{did_you_mean(baseline_id, BASELINES.ids())} "
                            f"Baselines: {', '.join(BASELINES.ids())}.")
    problems += budget_problems(config.baselines)
    problems += executor_problems(config.executor)
    methods = all_methods()
    for method_id in config.methods:
        if ":" not in method_id and method_id not in methods:
            problems.append(f"methods: unknown method {method_id!r}.{did_you_mean(method_id, methods.ids())} "
                            f"Methods: {', '.join(methods.ids())} (`fpbench methods`).")
    if not config.methods or config.methods[0] != "artificial_fingerprint":
        problems.append("methods: the first method must be artificial_fingerprint (the baselines and adaptive "
                        f"attacks measure it); got {list(config.methods)}")
    if len(set(config.methods)) != len(config.methods):
        problems.append(f"methods: each method once, got {list(config.methods)}")
    for method_id in config.methods[1:]:
        if ":" in method_id or method_id in methods:
            try:
                make_method(method_id, n_bits=config.n_bits, resolution=config.resolution)
            except (MethodError, ValueError, TypeError) as exc:
                problems.append(f"methods: {method_id} cannot run at {config.n_bits} bits, {config.resolution} px: "
                                f"{exc}")
    generators = [plan.id for plan in config.zoo.generators]
    fingerprinted = [plan.id for plan in config.zoo.generators if plan.fingerprinted]
    if len(set(generators)) != len(generators):
        problems.append(f"zoo.generators: ids must be distinct, got {generators}")
    refs = [("model_attacks.targets", t, generators) for t in config.model_attacks.targets]
    refs += [("baselines.unseen", g, generators) for g in config.baselines.unseen]
    refs += [("zoo.per_method", g, fingerprinted) for g in config.zoo.per_method]
    refs += [("model_attacks.per_method", a, config.model_attacks.attacks)
             for a in config.model_attacks.per_method or ()]
    refs += [("adaptive.per_method", a, config.adaptive.attacks) for a in config.adaptive.per_method or ()]
    refs += [("adaptive.target", config.adaptive.target, fingerprinted)] if config.adaptive.target else []
    for where, ref, valid in refs:
        if ref not in valid:
            if where.endswith(".per_method") and where != "zoo.per_method":
                section = where.split(".")[0]
                problems.append(f"{where}: {ref!r} is not one of {section}.attacks.{did_you_mean(ref, valid)} "
                                f"Attacks: {', '.join(valid) or 'none'}.")
                continue
            problems.append(f"{where}: {ref!r} is not a{' fingerprinted' if valid is fingerprinted else ''} generator "
                            f"of zoo.generators.{did_you_mean(ref, valid)} Generators: {', '.join(valid) or 'none'}.")
    return problems + _merge_problems(config)


def _merge_problems(config: RunConfig) -> list[str]:
    """Model attacks that merge the attacked generator with a second fingerprinted one of its architecture
    (``needs`` ``other_model``), or with a clean control of it (``needs`` ``clean_model``), fail in the
    model-attack stage, after the zoo trained, without one."""
    if config.models:  # a model card's generator may be that second one; the stage checks it
        return []
    plans = {g.id: g for g in config.zoo.generators}
    fingerprinted = [g for g in config.zoo.generators if g.fingerprinted]
    targets = [t for t in config.model_attacks.targets if t in plans] or [g.id for g in fingerprinted[:1]]
    clean = [g for g in config.zoo.generators if not g.fingerprinted]
    problems = []
    for attack_id in config.model_attacks.attacks:
        needs = ATTACKS.get(attack_id).needs if attack_id in ATTACKS else ()
        for target in targets:
            arch = plans[target].arch
            if "other_model" in needs and not any(g.id != target and g.arch == arch for g in fingerprinted):
                problems.append(f"model_attacks: {attack_id} merges {target} with a second fingerprinted {arch} "
                                f"generator, and zoo.generators has none: add one (another seed), or drop "
                                f"{attack_id} from model_attacks.attacks")
            if "clean_model" in needs and not any(g.arch == arch for g in clean):
                problems.append(f"model_attacks: {attack_id} merges {target} with a clean {arch} generator, and "
                                f"zoo.generators has none: add one (fingerprinted: false, arch: {arch}), or drop "
                                f"{attack_id} from model_attacks.attacks")
    return problems


@dataclass(frozen=True)
class Need:
    """A stage draws ``needed`` images of the data split ``split`` (train, test or holdout) and fails with
    fewer. ``what`` says who draws them (``{needed}`` is filled in); ``lower`` names the config field that
    sets ``needed`` ("" when no field does) and ``lowest`` the smallest value it takes."""

    stage: str
    what: str
    split: str
    needed: int
    lower: str = ""
    lowest: int = 1


POOLS = {"train": "the training images", "test": "the test images", "holdout": "the held-out images"}
DATA_FIELDS = {"train": "data.n_train", "test": "data.n_test", "holdout": "data.n_holdout"}


def _drawn(config: RunConfig, attack_id: str) -> int:
    """The most images an adaptive attack's grid draws (its largest n_samples or n_train)."""
    return int(max(config.grids.get(attack_id, ATTACKS.get(attack_id).grid)))


def _pool_attacks(config: RunConfig, need: str) -> list[str]:
    """The run's adaptive attacks that draw from the adversary's ``pool`` or its detector pools (``marked``)."""
    return [a for a in config.adaptive.attacks if a in ATTACKS and need in ATTACKS.get(a).needs]


def data_needs(config: RunConfig) -> list[Need]:
    """What the stages of ``config`` draw from the data splits (every method's stages draw the same)."""
    load_all()
    needs = [Need("data", "every run needs at least {needed} images", "train", 2),
             Need("data", "FID (a covariance) needs at least {needed} images", "test", 2)]
    if config.baselines.methods and config.zoo.generators:
        needs.append(Need("baselines", "each baseline trains on {needed} real images (baselines.train_per_class, "
                          "as many as of each generator)", "train", config.baselines.train_per_class,
                          "baselines.train_per_class"))
    if config.adaptive.attacks:
        needs.append(Need("adaptive", "the adversary trains its own models on at least {needed} image", "holdout", 1,
                          "adaptive.attacks"))
        for attack_id in dict.fromkeys(_pool_attacks(config, "pool") + _pool_attacks(config, "marked")):
            spec = ATTACKS.get(attack_id)
            needs.append(Need("adaptive", f"{attack_id} draws up to {{needed}} images ({spec.param}, "
                              f"evaluation.grids.{attack_id})", "holdout", _drawn(config, attack_id),
                              f"evaluation.grids.{attack_id}", int(spec.domain[0])))
    return needs


def folder_images(**needed: int) -> int:
    """The fewest images of a folder whose train / test / holdout splits (``fpbench.pipeline.stages.data``)
    hold at least ``needed`` of each, e.g. ``folder_images(holdout=512)``."""
    want = tuple(needed.get(split, 0) for split in ("train", "test", "holdout"))

    def enough(n: int) -> bool:
        return all(have >= w for have, w in zip(folder_sizes(n), want, strict=True))

    low, high = 2, 2
    while not enough(high):
        low, high = high, high * 2
    while low < high:  # every split grows with the folder
        mid = (low + high) // 2
        low, high = (mid + 1, high) if not enough(mid) else (low, mid)
    return high


def _more(split: str, needed: int, folder: bool | None) -> str:
    if folder is None:
        return "give more images"
    if folder:
        return f"give a folder of at least {folder_images(**{split: needed})} images"
    return f"raise {DATA_FIELDS[split]} to {needed}"


def _shortfall(need: Need, have: int, folder: bool | None) -> str:
    fixes = [_more(need.split, need.needed, folder)]
    if need.lower == "adaptive.attacks":
        fixes.append("drop adaptive.attacks")
    elif need.lower and have >= need.lowest:
        fixes.insert(0, f"lower {need.lower} to at most {have}")
    return (f"{need.stage}: {need.what.format(needed=need.needed)} from {POOLS[need.split]}, which hold {have}: "
            + ", or ".join(fixes))


def sample_problems(config: RunConfig) -> list[str]:
    """What the run's generator samples (``zoo.n_samples`` of each) cannot feed: FID, and the adaptive stage,
    which attacks ``adaptive.samples`` of the attacked generator's samples, tests its detectors on the last
    ``adaptive.detect_test`` ones, and gives the adversary the rest."""
    load_all()
    problems = []
    n = config.zoo.n_samples
    if config.zoo.generators and n < 2:
        problems.append(f"generators: FID (a covariance) needs at least 2 samples of each generator, and "
                        f"zoo.n_samples is {n}: raise zoo.n_samples")
    fingerprinted = [g.id for g in config.zoo.generators if g.fingerprinted]
    if not config.adaptive.attacks or not fingerprinted:
        return problems
    target = config.adaptive.target or fingerprinted[0]
    controls = any(not g.fingerprinted for g in config.zoo.generators)
    kept = [("adaptive.samples", config.adaptive.samples, "attacks", "pool")]
    if controls:  # the detectors train on the fingerprinted and the clean control's samples, paired
        kept.append(("adaptive.detect_test", config.adaptive.detect_test, "tests its detectors on", "marked"))
    for field, k, verb, pool in kept:
        if n <= k:
            problems.append(f"adaptive: {verb} {k} samples of {target} ({field}) and gives the adversary the rest, "
                            f"but zoo.n_samples is {n}: raise zoo.n_samples above {k}, or lower {field}")
            continue
        for attack_id in _pool_attacks(config, pool):
            drawn = _drawn(config, attack_id)
            if drawn > n - k:
                param = ATTACKS.get(attack_id).param
                problems.append(f"adaptive: {attack_id} draws up to {drawn} images ({param}, "
                                f"evaluation.grids.{attack_id}) from the other samples of {target}, which hold "
                                f"{n - k} (zoo.n_samples {n} minus {field} {k}): lower evaluation.grids.{attack_id} "
                                f"to at most {n - k}, or raise zoo.n_samples to {drawn + k}")
    return problems


def data_problems(config: RunConfig, n_train: int, n_test: int, n_holdout: int, *,
                  folder: bool | None = None) -> list[str]:
    """What the run's stages would lack with this many images, checked when the data is loaded, before
    the fingerprint stage: every split a stage draws from (:func:`data_needs`: the adversary's pools of
    held-out photos, the baselines' real class, ...) and the generator samples (:func:`sample_problems`).
    Each problem names the stage, what it draws, how many the data holds and the fix: a config field to
    lower, or more images (``folder``: True for a ``--data`` folder, False for the built-in photos, whose
    counts are ``data.n_*``; None: unknown)."""
    have = {"train": n_train, "test": n_test, "holdout": n_holdout}
    short = [need for need in data_needs(config) if need.needed > have[need.split]]
    problems = [_shortfall(need, have[need.split], folder) for need in short]
    if folder and short:
        needed = {split: max(need.needed for need in short if need.split == split) for split in have
                  if any(need.split == split for need in short)}
        problems.append(f"in all, a folder of at least {folder_images(**needed)} images feeds this run (it is split "
                        f"80/10/10 into training, test and held-out images); this one gave "
                        f"{n_train + n_test + n_holdout}")
    return problems + sample_problems(config)


def data_shortfalls(config: RunConfig, n_test: int) -> list[str]:
    """Sample counts the test images cap (no error: the stage measures fewer images than the config asks
    for), one sentence each, for the runner to warn about."""
    caps = []
    if config.image_attacks.attacks:
        caps.append(("image_attacks", "image_attacks.samples", config.image_attacks.samples,
                     "fingerprinted photos (model data) attacked"))
    if config.baselines.methods and config.baselines.attacks and config.baselines.attack_methods:
        caps.append(("baselines", "baselines.attack_samples", config.baselines.attack_samples,
                     "real images attacked for the baselines"))
    if config.adaptive.attacks:
        caps.append(("adaptive", "adaptive.samples", config.adaptive.samples,
                     "fingerprinted photos attacked and innocent photos forged"))
        caps.append(("adaptive", "adaptive.detect_test", config.adaptive.detect_test,
                     "photos of each class the detectors are tested on"))
    return [f"{stage}: {field} asks for {wanted} {what}, and the test images hold {n_test}: measured on {n_test} "
            f"(give more images, or lower {field} to {n_test} to say so)"
            for stage, field, wanted, what in caps if wanted > n_test]


def check_config(config: RunConfig) -> RunConfig:
    """``config`` unchanged, or a :class:`ConfigError` listing every problem."""
    problems = config_problems(config)
    if problems:
        raise ConfigError(f"run config {config.name!r} cannot run:\n- " + "\n- ".join(problems))
    return config
