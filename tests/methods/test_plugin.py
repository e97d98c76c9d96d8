"""A third-party method package (examples/fpbench-example-method) registers itself through the entry-point
group ``fpbench.methods`` alone: installed into a temporary folder on sys.path, fpbench finds, builds and
checks it; ``module:factory`` specs reach it without the entry point."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fpbench.methods import (
    ENTRY_POINT_GROUP,
    METHODS,
    FingerprintMethod,
    MethodError,
    get_method_factory,
    make_method,
)
from fpbench.methods.registry import load_entry_points
from fpbench.testing import CHECKS, check_method

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fpbench-example-method"
PLUGIN_ID = "example_parity"
MODULE = "fpbench_example_method"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package pip-installed (offline: no index, no dependencies, no build isolation) into a
    temporary folder; built from a copy so the build leaves nothing in the source tree."""
    root = tmp_path_factory.mktemp("plugin")
    source, target = root / "source", root / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
           "--disable-pip-version-check", "--quiet", "--target", str(target), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"pip install of {EXAMPLE} failed:\n{done.stdout}\n{done.stderr}"
    assert list(target.glob("fpbench_example_method-0.1.0.dist-info")), sorted(p.name for p in target.iterdir())
    return target


@pytest.fixture
def plugin(installed: Path, monkeypatch: pytest.MonkeyPatch):
    """The installed folder on sys.path for one test; afterwards the plug-in's id leaves the global registry
    and its module leaves sys.modules, so other tests see fpbench as before."""
    def own_modules() -> dict[str, object]:
        return {m: sys.modules.pop(m) for m in list(sys.modules) if m == MODULE or m.startswith(MODULE + ".")}

    # should the example also be installed in the environment itself, set its registration aside meanwhile
    saved_entry, saved_modules = METHODS._entries.pop(PLUGIN_ID, None), own_modules()
    monkeypatch.syspath_prepend(str(installed))
    yield installed
    METHODS._entries.pop(PLUGIN_ID, None)
    own_modules()
    sys.modules.update(saved_modules)
    if saved_entry is not None:
        METHODS._entries[PLUGIN_ID] = saved_entry


def test_the_entry_point_registers_the_method(plugin: Path) -> None:
    registry = load_entry_points()
    assert PLUGIN_ID in registry
    factory = registry.get(PLUGIN_ID)
    assert factory.__module__ == MODULE and Path(sys.modules[MODULE].__file__).is_relative_to(plugin)
    assert load_entry_points() is registry and registry.ids().count(PLUGIN_ID) == 1  # loading twice: no duplicate

    method = make_method(PLUGIN_ID, n_bits=16, resolution=16)
    assert isinstance(method, FingerprintMethod) and method.id == PLUGIN_ID
    assert method.config == {"id": PLUGIN_ID, "n_bits": 16, "resolution": 16, "key": 0, "strength": 4.0}
    assert make_method(PLUGIN_ID, n_bits=8, resolution=16, key=7).config["key"] == 7


def test_the_plugin_passes_check_method(plugin: Path) -> None:
    factory = load_entry_points().get(PLUGIN_ID)
    assert check_method(factory) == dict.fromkeys(CHECKS, "ok")
    assert check_method(factory, n_bits=32, resolution=32, checks=["embed", "decode"]) == {
        "embed": "ok", "decode": "ok"}


def test_the_plugin_reads_back_what_it_embeds(plugin: Path) -> None:
    import torch

    from fpbench.testing import make_images

    method = make_method(PLUGIN_ID, n_bits=16, resolution=16)
    images = make_images(16, 16, seed=3)
    bits = torch.randint(0, 2, (16, 16), generator=torch.Generator().manual_seed(3)).float()
    decoded = method.decode(method.embed(images, bits))
    assert ((decoded > 0.5).float() == bits).float().mean() > 0.95


def test_a_fresh_interpreter_lists_the_installed_plugin(installed: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(installed), os.environ.get("PYTHONPATH")]))}
    code = ("from fpbench.methods import all_methods; print('\\n'.join(all_methods().ids()))\n"
            "from fpbench.pipeline.cli import main; main(['methods'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    ids = done.stdout.split("\n")
    assert PLUGIN_ID in ids and "artificial_fingerprint" in ids
    table = [line.split() for line in ids if line.startswith(PLUGIN_ID + " ")]
    assert table == [[PLUGIN_ID, "classical", MODULE]]

    if importlib.util.find_spec(MODULE) is not None:
        return  # also installed in the environment itself: it is listed with or without the folder
    # without the folder on the path the plug-in is not there
    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert PLUGIN_ID not in done.stdout


def test_a_module_factory_spec_reaches_the_method_without_the_registry(plugin: Path) -> None:
    factory = get_method_factory(f"{MODULE}:ParityMethod")
    assert factory is sys.modules[MODULE].ParityMethod
    assert make_method(f"{MODULE}:ParityMethod", n_bits=8, resolution=16).id == PLUGIN_ID
    assert PLUGIN_ID not in METHODS._entries or METHODS.get(PLUGIN_ID) is factory  # a spec registers nothing new


def test_a_bad_module_factory_spec_is_a_method_error_naming_it(plugin: Path) -> None:
    with pytest.raises(MethodError, match=r"method 'fpbench_no_such_module:Thing': cannot import 'Thing' from "
                                          r"module 'fpbench_no_such_module' \(ModuleNotFoundError"):
        get_method_factory("fpbench_no_such_module:Thing")
    with pytest.raises(MethodError, match=rf"cannot import 'NoSuchMethod' from module '{MODULE}' \(AttributeError"):
        get_method_factory(f"{MODULE}:NoSuchMethod")
    with pytest.raises(MethodError, match=r"__version__ is not callable"):
        get_method_factory(f"{MODULE}:__version__")


def test_the_example_declares_its_method_only_through_the_entry_point() -> None:
    text = (EXAMPLE / "pyproject.toml").read_text()
    assert f'[project.entry-points."{ENTRY_POINT_GROUP}"]' in text
    assert f'{PLUGIN_ID} = "{MODULE}:ParityMethod"' in text
    assert "dependencies = []" in text
    assert "register_method" not in (EXAMPLE / MODULE / "__init__.py").read_text()
    assert "pip install ./examples/fpbench-example-method" in (EXAMPLE / "README.md").read_text()


@pytest.mark.filterwarnings("ignore")
def test_smoke_runs_with_the_installed_plugin(plugin: Path, tmp_path: Path) -> None:
    """The installed plug-in goes through the smoke run like a built-in method: its stamped photos, its
    DCGAN (the smoke zoo's fingerprinted generator, trained on its stamped photos) and the image and model
    attacks, under its own id. Short trainings and no adaptive or baseline stage: what is tested is the plug-in's path
    (the per-method adaptive path is the one tests/pipeline/test_methods_run.py runs for every built-in method)."""
    from fpbench.cache import ArtifactCache
    from fpbench.pipeline.presets import get_preset
    from fpbench.pipeline.runner import run

    load_entry_points()
    smoke = get_preset("smoke")
    measured = {*smoke.image_attacks.attacks, *smoke.model_attacks.attacks}
    grids = {a: g for a, g in smoke.evaluation.grids.items() if a in measured}  # updated() merges dicts
    short = tuple(dataclasses.replace(plan, steps=100) for plan in smoke.zoo.generators)
    smoke = dataclasses.replace(smoke, evaluation=dataclasses.replace(smoke.evaluation, grids=grids),
                                fingerprint=dataclasses.replace(smoke.fingerprint, steps=100),
                                zoo=dataclasses.replace(smoke.zoo, generators=short))
    preset = smoke.updated({"methods": ["artificial_fingerprint", PLUGIN_ID], "adaptive": {"attacks": []},
                            "baselines": {"methods": []}})
    df = run(preset, tmp_path / "out", cache=ArtifactCache(tmp_path / "cache"), progress=False).results
    rows = df[df["method"] == PLUGIN_ID]
    clean = rows[rows["attack"] == "none"].set_index(["model", "metric"])["value"]
    assert clean["data", "bit_accuracy"] > 0.95  # its own stamp reads back on the stamped test photos
    assert 0 <= clean["dcgan-s0", "bit_accuracy"] <= 1 and ("dcgan-clean", "control_bit_accuracy") in clean.index
    assert {"image", "model"} <= set(rows["attack_kind"])
    assert (tmp_path / "out" / "report.md").read_text(encoding="utf-8").count(PLUGIN_ID) >= 2
