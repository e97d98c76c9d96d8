"""Nothing lost (issue 19): a run works in OUT/partial/ and only a complete run replaces OUT's results,
manifest and report; a failed rerun leaves the previous complete run intact and says why it failed."""

from __future__ import annotations

import json

import pytest

import fpbench.pipeline.runner as runner
from fpbench.cache import ArtifactCache
from fpbench.pipeline.runner import run
from tests.stages.test_cache_keys import tiny_preset


def _snapshot(out) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and "partial" not in p.parts}


@pytest.fixture(scope="module")
def complete(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lost")
    preset = tiny_preset().updated({"baselines": {"methods": []}, "adaptive": {"attacks": []},
                                    "evaluation": {"grids": {"overwrite": None}}})
    outcome = run(preset, tmp / "out", cache=ArtifactCache(tmp / "cache"), progress=False)
    return tmp, preset, outcome


def test_a_complete_run_is_promoted(complete):
    tmp, _, outcome = complete
    out = tmp / "out"
    assert not (out / "partial").exists()
    assert {"results.csv", "manifest.json", "report.html", "report.md"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["status"] == "complete"
    assert len(outcome.results) > 0


def test_a_failed_rerun_leaves_the_complete_run_intact(complete, monkeypatch):
    tmp, preset, _ = complete
    out = tmp / "out"
    before = _snapshot(out)

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "run_model_attacks", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        run(preset, out, cache=ArtifactCache(tmp / "cache"), progress=False)
    assert _snapshot(out) == before  # results, manifest, report, tables and plots byte for byte
    partial = json.loads((out / "partial" / "manifest.json").read_text(encoding="utf-8"))
    assert partial["status"] == "failed" and "disk on fire" in partial["error"]
    assert (out / "partial" / "results.csv").is_file()  # what the failed run measured before it failed


def test_the_next_complete_run_clears_the_failed_one(complete):
    tmp, preset, _ = complete
    out = tmp / "out"
    run(preset, out, cache=ArtifactCache(tmp / "cache"), progress=False)
    assert not (out / "partial").exists()
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["status"] == "complete"


def test_a_killed_rerun_leaves_the_complete_run_intact(complete, tmp_path):
    """kill -9 in the middle of a rerun: OUT keeps the complete run, OUT/partial holds the interrupted one
    (its manifest is written once before the data stage, then results and manifest after every stage)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    tmp, _, _ = complete
    out = tmp / "out"
    before = _snapshot(out)
    config = tmp_path / "slow.yaml"  # a cold run long enough to be killed mid-way: smoke, fresh cache
    config.write_text("extends: smoke\nadaptive: {attacks: []}\nbaselines: {methods: [], attacks: [], "
                      "attack_methods: [], unseen: []}\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "fpbench.pipeline.cli", "run", "--config", str(config),
                             "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "partial" / "manifest.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert _snapshot(out) == before
    partial = json.loads((out / "partial" / "manifest.json").read_text(encoding="utf-8"))
    assert partial["status"] == "running"  # what a killed run leaves: never promoted
