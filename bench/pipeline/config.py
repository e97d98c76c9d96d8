"""Run configs: one frozen dataclass per stage, composed into a :class:`RunConfig`, and their YAML form.

A run config is what ``fpbench run`` executes and what keys every cached artifact. The shipped presets
(``fpbench.pipeline.presets``) are run configs; a YAML file can start from one and change what it names::

    extends: quick            # a preset name, or the path of another config file
    seeds: [0, 1, 2]
    image_attacks:
      attacks: [jpeg, gaussian_blur]
    evaluation:
      grids: {jpeg: [90, 70, 50]}

Mappings merge key by key into what they extend (an entry of ``grids`` set to ``null`` is removed; the grids
of attacks a file takes out of the run go with them); lists and scalars replace. Unknown keys are errors that
name the key, suggest the closest valid one and list them all; values are checked against the field's
type (``fpbench config show quick`` prints a complete file to start from).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from fpbench.fid import extractor_choices
from fpbench.fingerprint.training import FingerprintTrainConfig
from fpbench.generators.config import check_ids
from fpbench.registry import check_choice, did_you_mean


class ConfigError(ValueError):
    """A run config that cannot be run: an unknown key, a value of the wrong type, an attack outside the run."""


class FrozenMap(dict):
    """A dict that refuses changes: presets are shared through the registry, so a caller's edit of a grid
    must not change the preset for everyone (derive a new config with :meth:`RunConfig.updated`)."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("run config maps are read-only; use config.updated({'evaluation': {'grids': {...}}})")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _refuse  # type: ignore[assignment]

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))


#: seeds of a repeat are spread this far apart, so repeat s of a plan seeded 1 never meets another plan's seed
SEED_STRIDE = 1000


@dataclass(frozen=True)
class GeneratorPlan:
    """One generator of the zoo: its id, architecture, seed, training length and whether it is
    trained on fingerprinted data (False = the clean control). ``discriminator``: a GENERATORS id whose
    D replaces ``arch``'s own ("" = ``arch``'s); ``loss``: a GAN loss id (fpbench.generators.LOSSES);
    ``batch_size``: images per step (for real and for fake); ``lr``: Adam's learning rate for G and D."""

    id: str
    arch: str
    seed: int
    fingerprinted: bool = True
    steps: int = 2000
    width: int = 32
    latent_dim: int = 64
    discriminator: str = ""
    loss: str = "hinge"
    batch_size: int = 64
    lr: float = 2e-4

    def __post_init__(self) -> None:  # a typo fails when the config is defined, not after the fingerprint stage
        check_ids(self.arch, self.discriminator, self.loss)


@dataclass(frozen=True)
class DataConfig:
    """The real images: built-in photos split into train / test / held-out, or a user folder (``needs_data``:
    the run refuses to start without ``--data``). ``seed`` draws the split and crops, shared by every run seed."""

    resolution: int
    n_train: int
    n_test: int
    n_holdout: int
    needs_data: bool = False
    seed: int = 0
    allow_upscale: bool = False  # a --data folder's images smaller than the resolution are enlarged, not refused


@dataclass(frozen=True)
class ZooConfig:
    """The generators trained on stamped (and clean) data, and how many samples each contributes.
    ``workers``: CPU processes training generators side by side, sharing the threads."""

    generators: tuple[GeneratorPlan, ...] = ()
    n_samples: int = 1000
    workers: int = 1
    # the generators trained for each method after the first (RunConfig.methods); () = the first
    # fingerprinted generator; clean controls are shared by every method
    per_method: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageAttackConfig:
    attacks: tuple[str, ...] = ()  # image attack ids (``fpbench attacks --kind image``)
    samples: int = 500  # images attacked per source


def attacks_of(section: ModelAttackConfig | AdaptiveConfig, primary: bool) -> tuple[str, ...]:
    """The attacks of ``section`` a method gets: all of them for the run's first method, and for the others
    those also in ``section.per_method`` (all when it is None), in the order of ``section.attacks``."""
    if primary or section.per_method is None:
        return section.attacks
    return tuple(a for a in section.attacks if a in section.per_method)


@dataclass(frozen=True)
class ModelAttackConfig:
    attacks: tuple[str, ...] = ()  # model attack ids
    targets: tuple[str, ...] = ()  # generator ids; default: the first fingerprinted one
    # the attacks each method after the first (RunConfig.methods) gets; None = all of ``attacks``
    per_method: tuple[str, ...] | None = None
    finetune_steps: int = 300  # GAN fine-tuning steps after a one-shot change (fine_pruning)


@dataclass(frozen=True)
class BaselineConfig:
    """Passive attribution baselines on the same data (stage fpbench.pipeline.stages.baselines).
    ``epochs_by_method`` gives a learned baseline its own epoch budget instead of ``epochs``: keyed by
    baseline id (``yu2019``), or by an immunised variant's method id (``yu2019+immunised``), which otherwise
    gets its baseline's budget."""

    methods: tuple[str, ...] = ()  # baseline ids (fpbench.baselines.BASELINES)
    train_per_class: int = 1000  # training images per class (real, each generator)
    epochs: int = 2  # epochs of the CNN baselines (yu2019, wang2020)
    epochs_by_method: Mapping[str, int] = field(default_factory=FrozenMap)  # baseline id -> its own epochs
    unseen: tuple[str, ...] = ()  # open world: generator ids held out of baseline training
    attacks: tuple[str, ...] = ()  # image attacks (grids as for the fingerprint) for the baselines
    attack_methods: tuple[str, ...] = ()  # baselines evaluated on that grid
    attack_samples: int = 300  # test images per source (real, each generator) on the grid
    immunised: bool = False  # also retrain the grid's baselines with the attacks as augmentation

    def __post_init__(self) -> None:
        budgets = FrozenMap({str(k): int(v) for k, v in self.epochs_by_method.items()})
        bad = {k: v for k, v in budgets.items() if v < 1}
        if self.epochs < 1 or bad:
            raise ConfigError(f"baselines.epochs and baselines.epochs_by_method must be >= 1, got epochs="
                              f"{self.epochs}, epochs_by_method={dict(budgets)}")
        object.__setattr__(self, "epochs_by_method", budgets)

    def epochs_of(self, method: str) -> int:
        """The epoch budget of ``method`` (a baseline id, or ``<id>+immunised``): its own entry in
        ``epochs_by_method``, else its baseline's, else ``epochs``."""
        baseline = method.split("+", 1)[0]
        return self.epochs_by_method.get(method, self.epochs_by_method.get(baseline, self.epochs))


@dataclass(frozen=True)
class AdaptiveConfig:
    """Attacks by an adversary who knows the method (stage fpbench.pipeline.stages.adaptive)."""

    attacks: tuple[str, ...] = ()  # adaptive attack ids (removal, forgery, detectability)
    samples: int = 256  # images attacked per source (and innocent images forged)
    target: str = ""  # generator attacked besides "data"; default: the first fingerprinted one
    detect_test: int = 200  # detectability test images per class
    pgd_steps: int = 40
    cnn_steps: int = 200  # detectability CNN training steps (batch 32)
    adversary: FingerprintTrainConfig | None = None  # the adversary's own fingerprint model; None: a small one
    autoencoder_steps: int = 400
    denoiser_steps: int = 400  # the adversary's DnCNN denoiser (purification), batch 32
    # the attacks each method after the first (RunConfig.methods) gets; None = all of ``attacks``
    per_method: tuple[str, ...] | None = None


@dataclass(frozen=True)
class EvaluationConfig:
    """How rows are measured: the significance level of the fingerprint test, the severity grids
    (attack id -> values) that replace the registry's defaults, and the FID feature extractor
    (``fpbench.fid``: "auto", "inception" or "random-conv-v1"; ``fpbench run --fid-extractor``)."""

    alpha: float = 1e-6
    grids: Mapping[str, tuple[float, ...]] = field(default_factory=FrozenMap)
    fid_extractor: str = "auto"

    def __post_init__(self) -> None:
        check_choice("fid_extractor", self.fid_extractor, extractor_choices())
        grids = FrozenMap({str(k): tuple(float(v) for v in grid) for k, grid in self.grids.items()})
        object.__setattr__(self, "grids", grids)


@dataclass(frozen=True)
class ExecutorConfig:
    """Where the run's independent jobs (generator trainings, baseline fits, model-attack cells) execute
    (fpbench.pipeline.executors):
    ``local`` (this process, or ``zoo.workers`` processes) or ``ray`` (one Ray task per job, of
    ``cpus_per_task`` CPUs, on the cluster at ``address``; "" starts a local one). Results do not depend on
    it: a job trained on N threads equals the same job in a local run with ``--threads N``."""

    kind: str = "local"
    address: str = ""
    cpus_per_task: int = 1
    max_retries: int = 3  # a task whose worker died runs again up to this many times


@dataclass(frozen=True)
class RunConfig:
    """Everything a run does, stage by stage; its hash keys the run's manifest, the stages' configs key
    their cached artifacts."""

    name: str
    fingerprint: FingerprintTrainConfig
    data: DataConfig
    zoo: ZooConfig = ZooConfig()
    image_attacks: ImageAttackConfig = ImageAttackConfig()
    model_attacks: ModelAttackConfig = ModelAttackConfig()
    baselines: BaselineConfig = BaselineConfig()
    adaptive: AdaptiveConfig = AdaptiveConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    seed: int = 0  # the run seed: fingerprint training, fingerprints, generators, sampling, attacks
    seeds: tuple[int, ...] = (0,)  # the seeds a run repeats (``--seeds``); results get aggregate rows over them
    version: int = 1  # in every cache key: bump when a definition changes under the same name
    # fingerprinting methods (``fpbench methods``); the first, the paper's, gets the full zoo, the baselines and
    # the adaptive attacks; each other one its stamped data, zoo.per_method, image and model attacks
    methods: tuple[str, ...] = ("artificial_fingerprint",)
    # model cards (fpbench.zoo) of external generators added to the run (``--model-card``); in a config file a
    # relative path is read from the file's folder
    models: tuple[str, ...] = ()
    executor: ExecutorConfig = ExecutorConfig()

    def __post_init__(self) -> None:
        seeds = tuple(int(s) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ConfigError(f"seeds must be distinct non-negative integers, got {self.seeds!r}")
        object.__setattr__(self, "seeds", seeds)
        if self.fingerprint.resolution != self.data.resolution:
            raise ConfigError(f"fingerprint.resolution ({self.fingerprint.resolution}) must equal data.resolution "
                              f"({self.data.resolution}): the encoder stamps the run's images")

    @property
    def resolution(self) -> int:
        return self.data.resolution

    @property
    def n_bits(self) -> int:
        return self.fingerprint.n_bits

    @property
    def alpha(self) -> float:
        return self.evaluation.alpha

    @property
    def grids(self) -> Mapping[str, tuple[float, ...]]:
        return self.evaluation.grids

    def method_plans(self) -> tuple[GeneratorPlan, ...]:
        """The generators trained for each method after the first: ``zoo.per_method`` (default: the first
        fingerprinted generator) and every clean control."""
        fingerprinted = [g for g in self.zoo.generators if g.fingerprinted]
        wanted = set(self.zoo.per_method) or {g.id for g in fingerprinted[:1]}
        return tuple(g for g in self.zoo.generators if g.id in wanted or not g.fingerprinted)

    def attack_ids(self) -> tuple[str, ...]:
        """Every attack the run measures, in stage order, once each."""
        return tuple(dict.fromkeys((*self.image_attacks.attacks, *self.model_attacks.attacks,
                                    *self.baselines.attacks, *self.adaptive.attacks)))

    def updated(self, changes: Mapping[str, Any]) -> RunConfig:
        """This config with ``changes`` (nested like the YAML form) merged in and checked, e.g.
        ``config.updated({"baselines": {"epochs": 1}, "seeds": [0, 1]})``."""
        return from_dict(RunConfig, merge(to_dict(self), changes))

    def with_seed(self, seed: int) -> RunConfig:
        """The config as repeat ``seed`` of a run: every seed-dependent config moves (fingerprint training,
        generator and adversary seeds; fingerprints and sampling follow ``seed``), the data does not.
        Seed 0 is the config as defined."""
        seed = int(seed)
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        step = seed * SEED_STRIDE
        adversary = self.adaptive.adversary
        return replace(
            self, seed=seed, seeds=(seed,),
            fingerprint=replace(self.fingerprint, seed=self.fingerprint.seed + step),
            zoo=replace(self.zoo, generators=tuple(replace(p, seed=p.seed + step) for p in self.zoo.generators)),
            adaptive=replace(self.adaptive, adversary=None if adversary is None
                             else replace(adversary, seed=adversary.seed + step)),
        )

    def with_seeds(self, seeds: Iterable[int]) -> RunConfig:
        return replace(self, seeds=tuple(seeds))


# ---- the plain (YAML) form ----------------------------------------------------------------------------


def to_dict(obj: Any) -> Any:
    """A config as plain data (dicts, lists, numbers, strings, None), in field order."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (tuple, list)):
        return [to_dict(v) for v in obj]
    return obj


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in: mappings key by key (recursively), anything else replaced."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def from_dict(cls: type, data: Any, where: str = "") -> Any:
    """An instance of the config dataclass ``cls`` from plain data, every key and value checked."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or 'the config'} must be a mapping of keys to values, got {_shown(data)}")
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = [k for k in data if k not in known]
    if unknown:
        key = unknown[0]
        raise ConfigError(f"unknown key {_path(where, key)!r}.{did_you_mean(key, known)} "
                          f"Valid keys{' of ' + where if where else ''}: {', '.join(known)}.")
    hints = typing.get_type_hints(cls)
    values = {k: _value(hints[k], v, _path(where, k)) for k, v in data.items()}
    missing = [k for k, f in known.items() if k not in values and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where or 'the config'} needs {', '.join(_path(where, k) for k in missing)}")
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise ConfigError(f"{where or 'the config'}: {exc}") from None


def _path(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def _value(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _value(inner, value, where)
    if is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {_shown(value)}")
        return tuple(_value(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {_shown(value)}")
        # an entry set to null is removed: `grids: {jpeg: null}` goes back to the registry's grid
        return FrozenMap({str(k): _value(args[1], v, f"{where}.{k}") for k, v in value.items() if v is not None})
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {_shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
            raise ConfigError(f"{where} must be an integer, got {_shown(value)}")
        return int(value)
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-6 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{where} must be a number, got {_shown(value)}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise ConfigError(f"{where} must be a number, got {_shown(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, got {_shown(value)}")
        return value
    raise TypeError(f"{where}: no YAML form for a field of type {hint!r}")  # a config class this module misses


class _Dumper(yaml.SafeDumper):
    """Mappings as blocks, lists of scalars on one line (``attacks: [jpeg, gaussian_blur]``)."""

    def represent_list(self, data: list) -> yaml.Node:
        flat = all(not isinstance(v, (dict, list)) for v in data)
        return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(list, _Dumper.represent_list)


def dump_yaml(config: RunConfig) -> str:
    """A complete, loadable YAML file of ``config`` (``load_config`` of it gives the same config)."""
    header = (f"# fpbench run config '{config.name}' (fpbench config show). Run it with:\n"
              f"#   fpbench run --config FILE\n"
              f"# or start a file of your own with `extends: {config.name}` and only the keys you change.\n")
    typed = to_dict(from_dict(RunConfig, to_dict(config)))  # each value as its field's type: 30 -> 30.0
    return header + yaml.dump(typed, Dumper=_Dumper, sort_keys=False, width=110, allow_unicode=True)


def _drop_inherited_grids(config: RunConfig, data: Mapping[str, Any]) -> RunConfig:
    """Grids a file inherited for attacks it took out of the run go with them; grids it names itself
    stay (and are refused by validation when their attack is not in the run)."""
    evaluation = data.get("evaluation")
    own = evaluation.get("grids") if isinstance(evaluation, Mapping) else None
    own = set(own) if isinstance(own, Mapping) else set()
    stale = [a for a in config.grids if a not in config.attack_ids() and a not in own]
    return config.updated({"evaluation": {"grids": dict.fromkeys(stale)}}) if stale else config


def load_config(path: str | Path, presets: Mapping[str, RunConfig] | None = None,
                _seen: tuple[Path, ...] = ()) -> RunConfig:
    """The run config of a YAML file. ``extends`` names a preset (``presets``) or another file (relative
    to this one) whose config the file's keys change; without it the file must be complete."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: 'extends' loops back to a file that extends it")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path} must hold a mapping of keys to values, got {_shown(data)}")
    data = dict(data)
    if isinstance(data.get("models"), list):  # card paths are relative to the file that names them
        data["models"] = [str(path.parent / m) if isinstance(m, str) and not Path(m).is_absolute() else m
                          for m in data["models"]]
    parent = data.pop("extends", None)
    try:
        if parent is None:
            return from_dict(RunConfig, data)
        if not isinstance(parent, str) or not parent:
            raise ConfigError(f"extends must be a preset name or a file path, got {_shown(parent)}")
        presets = presets or {}
        if parent in presets:
            base = presets[parent]
        elif parent.endswith((".yaml", ".yml")):
            base = load_config(path.parent / parent, presets, (*_seen, path.resolve()))
        else:
            raise ConfigError(f"extends: unknown preset {parent!r}.{did_you_mean(parent, presets)} "
                              f"Presets: {', '.join(presets)}; or give a .yaml file")
        return _drop_inherited_grids(base.updated(data), data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
