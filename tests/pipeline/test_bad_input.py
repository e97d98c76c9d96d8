"""Bad input never costs a run (issue 19): each case exits 2 with one line naming the problem, before any
stage computes anything, without a traceback, and leaves an existing good output folder as it was."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fpbench.pipeline.cli import main

GOOD = "method,model\nartificial_fingerprint,data\n"  # stands for a complete earlier run


def _write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _config(tmp: Path, text: str) -> str:
    return _write(tmp / "run.yaml", text)


RUN_CASES = {
    # grids: domain, typo, outside the run, empty, not numbers
    "grid out of domain": (lambda t: ["--preset", "quick", "--grid", "jpeg=0"], "quality=0.0 is outside its domain"),
    "grid typo": (lambda t: ["--preset", "smoke", "--grid", "jpge=50"], "Did you mean 'jpeg'"),
    "grid outside the run": (lambda t: ["--preset", "smoke", "--grid", "gaussian_blur=3,5"], "does not measure"),
    "grid empty": (lambda t: ["--preset", "smoke", "--grid", "jpeg="], "empty grid"),
    "grid nan": (lambda t: ["--preset", "smoke", "--grid", "jpeg=nan"], "must be a number"),
    "grid not a number": (lambda t: ["--preset", "smoke", "--grid", "jpeg=abc"], "values must be numbers"),
    "grid file string": (lambda t: ["--preset", "smoke", "--grid-file", _write(t / "g.json", '{"jpeg": "95"}')],
                         "'jpeg' must be a non-empty list of numbers"),
    "grid file bare number": (lambda t: ["--preset", "smoke", "--grid-file", _write(t / "g.json", '{"jpeg": 90}')],
                              "'jpeg' must be a non-empty list of numbers"),
    "grid file list": (lambda t: ["--preset", "smoke", "--grid-file", _write(t / "g.json", "[1, 2]")],
                       "must hold an object"),
    "grid file null": (lambda t: ["--preset", "smoke", "--grid-file", _write(t / "g.json", '{"jpeg": [null]}')],
                       "'jpeg' must be a non-empty list of numbers"),
    "grid file bool": (lambda t: ["--preset", "smoke", "--grid-file", _write(t / "g.json", '{"jpeg": [true]}')],
                       "'jpeg' must be a non-empty list of numbers"),
    "grid file not json": (lambda t: ["--preset", "smoke", "--grid-file", _write(t / "g.json", "jpeg: 90")],
                           "is not JSON"),
    "grid file missing": (lambda t: ["--preset", "smoke", "--grid-file", str(t / "nope.json")],
                          "cannot read the grid file"),
    # numbers on the command line
    "threads zero": (lambda t: ["--preset", "smoke", "--threads", "0"], "--threads expects a whole number >= 1"),
    "threads negative": (lambda t: ["--preset", "smoke", "--threads", "-1"], "--threads expects a whole number >= 1"),
    "gan workers zero": (lambda t: ["--preset", "smoke", "--gan-workers", "0"], "--gan-workers expects"),
    "cpus per task zero": (lambda t: ["--preset", "smoke", "--cpus-per-task", "0"], "--cpus-per-task expects"),
    "ray address without ray": (lambda t: ["--preset", "smoke", "--ray-address", "auto"],
                                "is for the ray executor: add --executor ray"),
    "executor typo in a config": (lambda t: ["--config", _config(t, "extends: smoke\nexecutor: {kind: rya}\n")],
                                  "Did you mean 'ray'"),
    "seed too large": (lambda t: ["--preset", "smoke", "--seed", "1099511627776"], "--seed expects an integer in"),
    "seed negative": (lambda t: ["--preset", "smoke", "--seed", "-1"], "--seed expects an integer in"),
    "seed not a number": (lambda t: ["--preset", "smoke", "--seed", "one"], "--seed expects one integer"),
    "seeds repeated": (lambda t: ["--preset", "smoke", "--seeds", "1,1"], "--seeds expects distinct integers"),
    "seeds too large": (lambda t: ["--preset", "smoke", "--seeds", "0,4294967295"], "--seeds expects distinct"),
    "seed and seeds": (lambda t: ["--preset", "smoke", "--seed", "1", "--seeds", "0,1"], "not both"),
    # places
    "out is a file": (lambda t: ["--preset", "smoke", "--out", _write(t / "file", "x")], "is a file, not a folder"),
    "out cannot be made": (lambda t: ["--preset", "smoke", "--out", "/proc/fpbench-run"], "is not writable"),
    "cache dir is a file": (lambda t: ["--preset", "smoke", "--cache-dir", _write(t / "file", "x")],
                            "--cache-dir"),
    "data is not a folder": (lambda t: ["--preset", "smoke", "--data", str(t / "nowhere")], "is not a folder"),
    "device unknown": (lambda t: ["--preset", "smoke", "--device", "tpu"], "--device must be cpu, cuda"),
    # presets and config files
    "preset typo": (lambda t: ["--preset", "quik"], "Did you mean 'quick'"),
    "preset and config": (lambda t: ["--preset", "smoke", "--config", _config(t, "extends: smoke\n")], "not both"),
    "config missing": (lambda t: ["--config", str(t / "missing.yaml")], "cannot read the config file"),
    "config unknown key": (lambda t: ["--config", _config(t, "extends: smoke\nbaselines: {epocs: 1}\n")],
                           "unknown key 'baselines.epocs'"),
    "config wrong type": (lambda t: ["--config", _config(t, "extends: smoke\nzoo: {n_samples: many}\n")],
                          "zoo.n_samples must be an integer"),
    "config extends typo": (lambda t: ["--config", _config(t, "extends: smok\n")], "Did you mean 'smoke'"),
    "config not yaml": (lambda t: ["--config", _config(t, "extends: [smoke\n")], "is not valid YAML"),
    "config unknown target": (lambda t: ["--config", _config(t, "extends: smoke\nmodel_attacks: {targets: [dcgan-s9]}\n")],
                              "model_attacks.targets: 'dcgan-s9' is not a generator"),
    "config unknown adaptive target": (lambda t: ["--config", _config(t, "extends: smoke\nadaptive: {target: dcgan-clean}\n")],
                                       "is not a fingerprinted generator"),
    "config unknown baseline": (lambda t: ["--config", _config(t, "extends: smoke\nbaselines: {methods: [yu2018]}\n")],
                                "unknown baseline 'yu2018'"),
    "config attack in the wrong section": (lambda t: ["--config", _config(t, "extends: smoke\nimage_attacks: {attacks: [pruning]}\n")],
                                           "'pruning' is a model attack"),
    "config unknown attack": (lambda t: ["--config", _config(t, "extends: smoke\nimage_attacks: {attacks: [jpg]}\n")],
                              "unknown attack 'jpg'"),
    "config duplicate generators": (lambda t: ["--config", _config(t, (
        "extends: smoke\nzoo:\n  generators:\n  - {id: g, arch: dcgan, seed: 0}\n  - {id: g, arch: dcgan, seed: 1}\n"))],
        "ids must be distinct"),
    "config generator arch typo": (lambda t: ["--config", _config(t, (
        "extends: smoke\nzoo:\n  generators:\n  - {id: g, arch: dcgna, seed: 0}\n"))], "Did you mean 'dcgan'"),
    "config negative seeds": (lambda t: ["--config", _config(t, "extends: smoke\nseeds: [-1]\n")],
                              "seeds must be distinct non-negative"),
    "config resolution mismatch": (lambda t: ["--config", _config(t, "extends: smoke\ndata: {resolution: 32}\n")],
                                   "must equal data.resolution"),
    "config target psnr": (lambda t: ["--config", _config(t, "extends: smoke\nfingerprint: {target_psnr: 5}\n")],
                           "target_psnr must be None or a PSNR"),
}


@pytest.fixture
def good_out(tmp_path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.csv").write_text(GOOD, encoding="utf-8")
    return out


@pytest.mark.parametrize("case", list(RUN_CASES))
def test_bad_run_input_exits_2_before_any_work(case, tmp_path, good_out, capsys):
    args, message = RUN_CASES[case]
    argv = ["run", *args(tmp_path)]
    if "--out" not in argv:
        argv += ["--out", str(good_out)]
    cache = tmp_path / "cache"
    if "--cache-dir" not in argv:
        argv += ["--cache-dir", str(cache)]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses a malformed flag itself, also with 2
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err, err
    assert "Traceback" not in err
    assert (good_out / "results.csv").read_text(encoding="utf-8") == GOOD
    assert sorted(p.name for p in good_out.iterdir()) == ["results.csv"]
    assert not cache.exists() or not any(cache.iterdir())  # nothing computed


OTHER_CASES = {
    "report without results": (lambda t: ["report", str(t)], "no results.csv"),
    "compare a missing run": (lambda t: ["compare", str(t / "a"), str(t / "b")], "results.csv"),
    "check a missing reference": (lambda t: ["check", str(t), "--reference", str(t / "ref.csv")], "results.csv"),
    "config show typo": (lambda t: ["config", "show", "smokee"], "Did you mean 'smoke'"),
    "config show bad file": (lambda t: ["config", "show", _config(t, "nme: x\n")], "unknown key 'nme'"),
}


@pytest.mark.parametrize("case", list(OTHER_CASES))
def test_bad_input_to_other_commands_exits_2(case, tmp_path, capsys):
    args, message = OTHER_CASES[case]
    code = main(args(tmp_path))
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err, err


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(ValueError, match="outside its domain"):
        main(["--debug", "run", "--preset", "smoke", "--grid", "jpeg=0", "--out", str(tmp_path / "out")])


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        assert main(["run", "--preset", "smoke", "--out", str(locked / "run")]) == 2
    finally:
        locked.chmod(0o700)
    assert "not writable" in capsys.readouterr().err


def test_too_few_images_for_the_adversary_fail_before_the_fingerprint_stage(tmp_path, capsys):
    """A folder whose held-out split cannot feed the adaptive grids fails right after the data stage."""
    import numpy as np
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    for i in range(3):  # unreadable files: skipped, and the warning saying so survives the failed run
        (folder / f"broken{i}.png").write_bytes(b"not a png")
    cache = tmp_path / "cache"
    code = main(["run", "--preset", "smoke", "--data", str(folder), "--out", str(tmp_path / "out"),
                 "--cache-dir", str(cache), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "draws up to 32 images" in err and "which hold 4" in err, err
    assert not (cache / "fingerprint").exists()
    manifest = json.loads((tmp_path / "out" / "partial" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "failed" and "draws up to" in manifest["error"]
    assert any("3" in w and "unreadable" in w for w in manifest["warnings"]), manifest["warnings"]
    assert not (tmp_path / "out" / "results.csv").exists()


@pytest.mark.parametrize("command", ["report", "compare"])
def test_infinite_values_are_refused_by_report_and_compare(command, tmp_path, capsys):
    """+-inf is never a measurement: `report` and `compare` refuse the table instead of ranking it."""
    import math

    from fpbench.results import row, to_frame

    rows = [row(method="artificial_fingerprint", model="data", metric="bit_accuracy", value=0.9, n=10),
            row(method="artificial_fingerprint", model="data", metric="ssim", value=math.inf, n=10)]
    df = to_frame(rows)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        df.to_csv(tmp_path / name / "results.csv", index=False)
    args = ["report", str(tmp_path / "a")] if command == "report" else ["compare", str(tmp_path / "a"),
                                                                        str(tmp_path / "b")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "infinite 'value'" in err and "ssim of data" in err and "Traceback" not in err


def test_the_psnr_of_untouched_images_may_be_infinite():
    """+inf is the true PSNR of identical images (a neutral attack): valid, unlike +-inf anywhere else."""
    import math

    from fpbench.results import row, to_frame, validate

    ok = to_frame([row(method="artificial_fingerprint", model="data", metric="psnr", value=math.inf, n=10,
                       attack="gaussian_noise", attack_kind="image", param=0.0, severity=0)])
    assert validate(ok) == []
    bad = ok.assign(metric="ssim")
    assert any("infinite 'value'" in p for p in validate(bad))
    assert any("infinite 'value'" in p for p in validate(ok.assign(value=-math.inf)))
