"""CI gate on robustness numbers: the smoke preset recomputed and compared with the committed reference, and
runs with a real defect that the gate must fail.

The reference (reports/reference/smoke.csv) and its tolerances (smoke.tolerance.json, from the run-to-run
spread measured by scripts/measure_spread.py) are regenerated only on purpose: `fpbench update-reference
RUN_DIR --name smoke --out reports/reference --spread spread.csv --row-spread spread_rows.csv`. The check
fails only when a metric got worse beyond its tolerance or a reference row disappeared.

Defects: (a) the fingerprinted generator trains on unstamped images (transfer lost), (b) the decoder's
weights are perturbed (every decoded number falls), (c) the fingerprint is stamped louder (data PSNR drops).
Each defect run shares the untouched run's cache where its defect allows, so only what the defect changes is
recomputed. One file, so the untouched run is made once (also under pytest-xdist's --dist loadfile).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import shutil

import pytest
import torch

import fpbench.pipeline.runner
import fpbench.pipeline.stages.generators
from fpbench.cache import ArtifactCache
from fpbench.pipeline.cli import main
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run
from fpbench.reports.regression import REFERENCE_DIR, check_reference, load_reference

pytestmark = pytest.mark.regression
LEARNED = "dcgan-s0"
LEARNED_IDS = tuple(g.id for g in get_preset("smoke").zoo.generators if g.fingerprinted)
POOLED = "zoo"  # the learned generators' samples pooled (evaluate_zoo): the transfer row the gate reads


def _smoke(out, cache_dir, preset=None):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return run(preset or get_preset("smoke"), out, cache=ArtifactCache(cache_dir), progress=False).results
    finally:
        torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def untouched(tmp_path_factory):
    """The smoke preset exactly as the reference was made (one torch thread, cold): (results, its cache)."""
    cache = tmp_path_factory.mktemp("gate-cache")
    return _smoke(tmp_path_factory.mktemp("untouched"), cache), cache


@pytest.fixture(scope="module")
def warm(untouched):
    return untouched[1]


def test_reference_files_exist():
    assert (REFERENCE_DIR / "smoke.csv").is_file()
    assert (REFERENCE_DIR / "smoke.tolerance.json").is_file()


def test_an_untouched_run_passes(untouched):
    report = check_reference(untouched[0], "smoke")
    assert report.passed, report.summary()


def test_check_is_direction_aware():
    reference, _ = load_reference("smoke")
    assert check_reference(reference, "smoke").passed
    rows = reference["metric"].eq("bit_accuracy") & reference["attack"].eq("none")
    assert rows.any()
    worse = reference.copy()
    worse.loc[rows, "value"] -= 0.2
    assert not check_reference(worse, "smoke").passed
    better = reference.copy()
    better.loc[rows, "value"] += 0.2
    assert check_reference(better, "smoke").passed


def _one_learned():
    """Smoke with one learned generator (and the clean control), for a defect run that retrains the zoo: the
    other generators' rows are then missing (a failure too), so each test asserts the row that got worse."""
    smoke = get_preset("smoke")
    plans = tuple(g for g in smoke.zoo.generators if g.id == LEARNED or not g.fingerprinted)
    return dataclasses.replace(smoke, zoo=dataclasses.replace(smoke.zoo, generators=plans))


def _failed(results, model, metric):
    report = check_reference(results, "smoke")
    assert not report.passed
    failed = report.failures
    hit = failed[(failed["model"] == model) & (failed["metric"] == metric) & (failed["status"] == "worse")]
    assert len(hit), f"no {model} {metric} row got worse:\n{report.summary()}"
    assert {"reference", "current", "tolerance"} <= set(failed.columns)
    return report


def test_a_generator_trained_on_unstamped_data(warm, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    for stage in ("data", "fingerprint"):  # reuse the codec; the generators must retrain
        shutil.copytree(warm / stage, cache / stage)
    trained = fpbench.pipeline.runner.train_zoo

    def on_unstamped_data(ctx, codec, real, plans=None):  # the zoo's training photos left as they are
        return trained(ctx, dataclasses.replace(codec, stamp=lambda images, fp: images), real, plans)

    monkeypatch.setattr(fpbench.pipeline.runner, "train_zoo", on_unstamped_data)
    _failed(_smoke(tmp_path / "out", cache, _one_learned()), LEARNED, "bit_accuracy")


def test_b_a_perturbed_decoder(warm, tmp_path, monkeypatch):
    trained = fpbench.pipeline.runner.fingerprint_models

    def perturbed(ctx, real):
        models, key = trained(ctx, real)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in models.decoder.parameters():
                p.add_(torch.randn(p.shape, generator=gen) * p.std() * 0.5)
        ctx.lineage["fingerprint"] = key + "-perturbed"  # a new decoder: measurements recompute
        return models, key

    monkeypatch.setattr(fpbench.pipeline.runner, "fingerprint_models", perturbed)
    _failed(_smoke(tmp_path / "out", warm), "data", "bit_accuracy")


def test_c_data_psnr_drops(warm, tmp_path):
    smoke = _one_learned()
    louder = dataclasses.replace(smoke, fingerprint=dataclasses.replace(smoke.fingerprint, target_psnr=22.0))
    _failed(_smoke(tmp_path / "out", warm, louder), "data", "psnr")


def _lowered(tmp_path, by: float) -> tuple[int, str]:
    """``fpbench check`` of the committed reference with transfer lowered by ``by``: every learned generator's
    clean bit accuracy, each own row and the pooled one. Returns (exit code, printed report)."""
    reference, _ = load_reference("smoke")
    rows = _transfer_rows(reference)
    assert rows.sum() == len(LEARNED_IDS) + 1
    lowered = reference.copy()
    lowered.loc[rows, "value"] -= by
    (tmp_path / "run").mkdir(exist_ok=True)
    lowered.to_csv(tmp_path / "run" / "results.csv", index=False)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["check", str(tmp_path / "run"), "--reference", "smoke"])
    return code, buf.getvalue()


def _transfer_rows(frame):
    return (frame["model"].isin([*LEARNED_IDS, POOLED]) & frame["metric"].eq("bit_accuracy")
            & frame["attack"].eq("none"))


def _transfer_tolerances() -> dict[str, float]:
    _, tolerance = load_reference("smoke")
    return {r["model"]: r["tolerance"] for r in tolerance["rows"]
            if r["model"] in (*LEARNED_IDS, POOLED) and r["metric"] == "bit_accuracy" and r["attack"] == "none"}


def test_check_exits_1_and_names_the_rows_when_transfer_drops_by_005(tmp_path):
    """Issue 13's bar: transfer 0.05 lower fails the gate, and the report names the pooled transfer row."""
    code, out = _lowered(tmp_path, 0.05)
    assert code == 1 and "FAILED" in out
    worse = [line for line in out.splitlines() if line.startswith("worse")]
    assert any(f" {POOLED} " in f" {line} " and "bit accuracy" in line and " none " in line for line in worse), out


def test_check_passes_a_transfer_drop_inside_its_tolerance(tmp_path):
    tolerances = _transfer_tolerances()
    assert tolerances[POOLED] < 0.05  # what lets the gate see a 0.05 drop; measured, README "The CI gate"
    code, out = _lowered(tmp_path, min(tolerances.values()) / 2)  # inside float-order noise: passes
    assert code == 0, out
