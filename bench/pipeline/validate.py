"""Checks a run config before any stage runs: every id it names exists, every grid belongs to an attack
the run measures and fits that attack's domain, every generator it refers to is in the zoo. All problems
are reported at once, each with what to change."""

from __future__ import annotations

from fpbench.attacks.registry import ATTACKS, AttackKind, load_all
from fpbench.baselines import BASELINES
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
    generators = [plan.id for plan in config.zoo.generators]
    if len(set(generators)) != len(generators):
        problems.append(f"zoo.generators: ids must be distinct, got {generators}")
    fingerprinted = [plan.id for plan in config.zoo.generators if plan.fingerprinted]
    refs = [("model_attacks.targets", t, generators) for t in config.model_attacks.targets]
    refs += [("baselines.unseen", g, generators) for g in config.baselines.unseen]
    refs += [("adaptive.target", config.adaptive.target, fingerprinted)] if config.adaptive.target else []
    for where, ref, valid in refs:
        if ref not in valid:
            problems.append(f"{where}: {ref!r} is not a{' fingerprinted' if valid is fingerprinted else ''} generator "
                            f"of zoo.generators.{did_you_mean(ref, valid)} Generators: {', '.join(valid) or 'none'}.")
    return problems


def check_config(config: RunConfig) -> RunConfig:
    """``config`` unchanged, or a :class:`ConfigError` listing every problem."""
    problems = config_problems(config)
    if problems:
        raise ConfigError(f"run config {config.name!r} cannot run:\n- " + "\n- ".join(problems))
    return config
