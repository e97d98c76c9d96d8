"""fpbench installs as one import package and stays out of other projects' way (issue 14)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = {"fpbench": "bench", "fpbench.attacks": "attacks", "fpbench.baselines": "baselines",
           "fpbench.reports": "reports"}


def _run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, check=False, **kwargs)


def _packages_on_disk() -> set[str]:
    found = set()
    for package, folder in FOLDERS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([package, *rel.parts]))
    return found


def test_the_package_list_names_every_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert config["package-dir"] == FOLDERS
    assert set(config["packages"]) == _packages_on_disk()


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    done = _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
                 str(target), str(ROOT)])
    assert done.returncode == 0, done.stderr
    return target


def test_one_top_level_package(installed):
    top = {p.name for p in installed.iterdir() if p.name != "bin"}
    assert top == {"fpbench", "fpbench-0.1.0.dist-info"}
    shipped = [p.relative_to(installed).as_posix() for p in (installed / "fpbench").rglob("*.py")]
    assert not [p for p in shipped if Path(p).name.startswith("test_")]
    assert (installed / "fpbench" / "reports" / "reference" / "smoke.csv").is_file()
    done = _run([sys.executable, "-c", "import fpbench, fpbench.attacks, fpbench.baselines, fpbench.reports; "
                 "import fpbench.pipeline.cli; print(fpbench.__file__)"], cwd=installed,
                env={"PYTHONPATH": str(installed), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(installed / "fpbench" / "__init__.py")


def test_the_pytest_plugin_is_light():
    code = ("import sys, fpbench.pipeline.pytest_plugin; "
            "print(sorted(m for m in ('pandas', 'torch', 'numpy') if m in sys.modules))")
    done = _run([sys.executable, "-c", code])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_project_with_its_own_bench_package_is_unaffected(tmp_path):
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "__init__.py").write_text("MINE = True\n", encoding="utf-8")
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "__init__.py").write_text("OURS = True\n", encoding="utf-8")
    (tmp_path / "test_own.py").write_text("import bench, reports\n\n\ndef test_own():\n"
                                          "    assert bench.MINE and reports.OURS\n", encoding="utf-8")
    done = _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_own.py"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
