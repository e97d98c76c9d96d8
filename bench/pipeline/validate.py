"""Checks a run config before any stage runs: every id it names exists, every grid belongs to an attack
the run measures and fits that attack's domain, every generator it refers to is in the zoo. All problems
are reported at once, each with what to change."""

from __future__ import annotations

from fpbench.attacks.registry import ATTACKS, AttackKind, load_all
from fpbench.baselines import BASELINES
from fpbench.methods import MethodError, all_methods, make_method
from fpbench.pipeline.config import ConfigError, RunConfig
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
    return problems


def data_problems(config: RunConfig, n_train: int, n_test: int, n_holdout: int) -> list[str]:
    """What the run's stages would lack with this many images, checked when the data is loaded, before
    the fingerprint stage: the adversary's pools (held-out photos; generator samples the adaptive stage
    does not attack) must hold as many images as an attack's grid draws from them."""
    load_all()
    problems = []
    if n_train < 2 or n_test < 2:
        problems.append(f"the data has {n_train} training and {n_test} test images; every run needs at least 2 "
                        "of each: give a folder with more images")
    if not config.adaptive.attacks:
        return problems
    if n_holdout == 0:
        return problems + ["the adaptive attacks need held-out images (the adversary's own data), and the data "
                           "has none: give more images, or drop adaptive.attacks"]
    generated = any(plan.fingerprinted for plan in config.zoo.generators)
    for attack_id in config.adaptive.attacks:
        spec = ATTACKS.get(attack_id)
        if not {"pool", "marked"} & set(spec.needs):
            continue
        pools = {"the held-out photos": n_holdout}
        if generated:  # what the adaptive stage does not attack (pool) or test the detector on (marked)
            kept = config.adaptive.samples if "pool" in spec.needs else config.adaptive.detect_test
            pools["the attacked generator's other samples"] = config.zoo.n_samples - kept
        drawn = max(config.grids.get(attack_id, spec.grid))
        for pool, size in pools.items():
            if drawn > size:
                problems.append(f"adaptive attack {attack_id} draws up to {drawn:g} images ({spec.param}) from "
                                f"{pool}, which hold {size}: lower evaluation.grids.{attack_id} or give more images")
    return problems


def check_config(config: RunConfig) -> RunConfig:
    """``config`` unchanged, or a :class:`ConfigError` listing every problem."""
    problems = config_problems(config)
    if problems:
        raise ConfigError(f"run config {config.name!r} cannot run:\n- " + "\n- ".join(problems))
    return config
