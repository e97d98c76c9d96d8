"""``fpbench run --fid-extractor`` and ``--allow-download``: the choice goes into the run config, the permission
goes to the runner (never into the config), and a missing Inception file is one clear line, exit 2."""

from __future__ import annotations

import argparse
import urllib.request

import pytest

import fpbench.fid as fid
import fpbench.pipeline.runner as runner
from fpbench.pipeline.cli import FID_EXTRACTOR_CHOICES, _add_fid_options, main


@pytest.fixture
def ran(monkeypatch) -> list:
    """(config, keywords) of each call `fpbench run` makes to the runner (stubbed: nothing runs)."""
    calls = []

    def fake_run(preset, out, **kwargs):
        calls.append((preset, kwargs))
        raise SystemExit(0)

    monkeypatch.setattr(runner, "run", fake_run)
    return calls


def _run(tmp_path, *args: str) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--preset", "smoke", *args, "--out", str(tmp_path / "out")])


class TestFidOptions:
    def test_choices_are_the_registry_s(self):
        assert FID_EXTRACTOR_CHOICES == fid.extractor_choices()

    @pytest.mark.parametrize("choice", FID_EXTRACTOR_CHOICES)
    def test_fid_extractor_reaches_the_config(self, tmp_path, ran, choice):
        _run(tmp_path, "--fid-extractor", choice)
        preset, kwargs = ran[0]
        assert preset.evaluation.fid_extractor == choice
        assert kwargs["allow_download"] is False

    def test_without_the_flag_the_config_file_decides(self, tmp_path, ran):
        (tmp_path / "run.yaml").write_text("extends: smoke\nevaluation: {fid_extractor: random-conv-v1}\n",
                                           encoding="utf-8")
        with pytest.raises(SystemExit):
            main(["run", "--config", str(tmp_path / "run.yaml"), "--out", str(tmp_path / "out")])
        assert ran[0][0].evaluation.fid_extractor == "random-conv-v1"
        _run(tmp_path)
        assert ran[1][0].evaluation.fid_extractor == "auto"

    def test_allow_download_is_a_permission_not_config(self, tmp_path, ran):
        _run(tmp_path)
        _run(tmp_path, "--allow-download", "--fid-extractor", "inception")
        (plain, plain_kw), (allowed, allowed_kw) = ran
        assert plain_kw["allow_download"] is False and allowed_kw["allow_download"] is True
        assert allowed == plain.updated({"evaluation": {"fid_extractor": "inception"}})

    def test_unknown_choice_is_a_usage_error(self, tmp_path, ran, capsys):
        with pytest.raises(SystemExit) as info:
            main(["run", "--preset", "smoke", "--fid-extractor", "incepton", "--out", str(tmp_path / "out")])
        assert info.value.code == 2 and "invalid choice: 'incepton'" in capsys.readouterr().err
        assert not ran

    def test_helper_adds_both_options_to_any_parser(self):
        parser = argparse.ArgumentParser()
        _add_fid_options(parser)
        args = parser.parse_args(["--fid-extractor", "random-conv-v1", "--allow-download"])
        assert args.fid_extractor == "random-conv-v1" and args.allow_download is True
        args = parser.parse_args([])
        assert args.fid_extractor is None and args.allow_download is False


def test_missing_inception_is_one_line_exit_2_before_any_stage(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FPBENCH_CACHE_DIR", str(tmp_path / "cache-root"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("a test tried the network"))
    monkeypatch.setattr(runner, "load_real_images", lambda *a, **k: pytest.fail("a stage ran"))
    code = main(["run", "--preset", "smoke", "--fid-extractor", "inception", "--no-cache", "--quiet",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("fpbench: error: ") and "Traceback" not in err
    assert fid.INCEPTION_FILENAME in err and str(tmp_path / "cache-root" / "weights") in err
    assert "--allow-download" in err
