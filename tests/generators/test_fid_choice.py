"""Choosing the FID extractor (issue "bring your own model", item 5): the choice is part of the run config,
``inception`` without its weights is refused before any stage with the file, the path and both fixes, and
``allow_download`` fetches the weights through clean-fid's own downloader. Nothing here touches the network:
every download is clean-fid's code over a stubbed ``urlopen``, or a stubbed clean-fid downloader."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from cleanfid import downloads_helper

import fpbench.fid as fid
import fpbench.pipeline.runner as runner
from fpbench.cache import ArtifactCache, config_hash
from fpbench.pipeline.config import ConfigError, EvaluationConfig, dump_yaml, load_config
from fpbench.pipeline.presets import PRESETS

WEIGHTS = b"stand-in Inception weights"


@pytest.fixture
def weights_path(monkeypatch, tmp_path) -> Path:
    """An empty cache root (the weights path fpbench trusts holds no file) and no network: a call to
    ``urlopen`` that a test did not stub fails it."""
    monkeypatch.setenv("FPBENCH_CACHE_DIR", str(tmp_path / "cache-root"))

    def no_network(*args, **kwargs):
        raise AssertionError(f"a test tried the network: urlopen{args}")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path / "cache-root" / "weights" / fid.INCEPTION_FILENAME


def _serve(monkeypatch, payload: bytes) -> list[str]:
    """Stub ``urlopen`` to answer with ``payload``; returns the URLs asked for."""
    asked: list[str] = []

    def urlopen(url, *args, **kwargs):
        asked.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    return asked


def _fail_with(monkeypatch, exc: BaseException) -> None:
    def check_download_inception(fpath="./"):
        raise exc

    monkeypatch.setattr(downloads_helper, "check_download_inception", check_download_inception)


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir()) if path.parent.is_dir() else []


class TestChoices:
    def test_choices_are_auto_and_the_registry(self):
        assert fid.extractor_choices() == ("auto", *fid.FEATURE_EXTRACTORS.ids())
        assert fid.extractor_choices() == ("auto", "inception", "random-conv-v1")

    def test_clean_fid_fetches_the_url_and_file_fpbench_pins(self):
        """--allow-download goes through clean-fid's downloader: it must fetch the file fpbench verifies."""
        assert downloads_helper.inception_url == fid.INCEPTION_URL
        assert fid.INCEPTION_URL.endswith("/" + fid.INCEPTION_FILENAME)


class TestMissingWeights:
    @pytest.mark.parametrize("call", [
        lambda: fid.resolve_extractor("inception"),
        lambda: fid.extractor_key("inception"),
        lambda: fid.get_extractor("inception"),
    ], ids=["resolve", "key", "get"])
    def test_inception_names_the_file_the_path_and_both_fixes(self, weights_path, call):
        with pytest.raises(fid.InceptionWeightsMissing) as info:
            call()
        message = str(info.value)
        assert fid.INCEPTION_FILENAME in message and str(weights_path) in message
        assert fid.INCEPTION_URL in message and "--allow-download" in message
        assert not weights_path.exists()

    def test_nothing_downloads_by_default(self, weights_path, monkeypatch):
        _fail_with(monkeypatch, AssertionError("downloaded without allow_download"))
        assert fid.resolve_extractor("auto") == "random-conv-v1"
        with pytest.raises(fid.InceptionWeightsMissing):
            fid.resolve_extractor("inception")

    def test_unknown_id_is_refused_before_any_download(self, weights_path, monkeypatch):
        _fail_with(monkeypatch, AssertionError("downloaded for an unknown id"))
        with pytest.raises(KeyError, match="Did you mean 'inception'"):
            fid.resolve_extractor("incepton", allow_download=True)


class TestAllowDownload:
    @pytest.mark.parametrize("extractor", ["inception", "auto"])
    def test_clean_fid_download_lands_where_fpbench_reads(self, weights_path, monkeypatch, extractor):
        asked = _serve(monkeypatch, WEIGHTS)
        digest = hashlib.sha256(WEIGHTS).hexdigest()
        monkeypatch.setattr(fid, "INCEPTION_SHA256", digest)
        assert fid.resolve_extractor(extractor, allow_download=True) == "inception"
        assert asked == [fid.INCEPTION_URL]
        assert weights_path.read_bytes() == WEIGHTS
        assert os.stat(weights_path).st_mode & 0o444 == 0o444  # readable by whoever shares the cache
        assert _leftovers(weights_path) == [fid.INCEPTION_FILENAME]  # no temporary file or folder
        assert fid.extractor_key("inception") == f"inception:{digest[:16]}"
        # present and verified: a second call does not fetch again
        assert fid.resolve_extractor(extractor, allow_download=True) == "inception"
        assert asked == [fid.INCEPTION_URL]

    def test_stubbed_downloader_writing_the_file_resolves(self, weights_path, monkeypatch):
        """The downloader as clean-fid defines it: writes ``<fpath>/inception-2015-12-05.pt``, returns its path."""
        folders = []

        def check_download_inception(fpath="./"):
            folders.append(Path(fpath))
            target = Path(fpath) / fid.INCEPTION_FILENAME
            target.write_bytes(WEIGHTS)
            return str(target)

        monkeypatch.setattr(downloads_helper, "check_download_inception", check_download_inception)
        monkeypatch.setattr(fid, "INCEPTION_SHA256", hashlib.sha256(WEIGHTS).hexdigest())
        assert fid.resolve_extractor("inception", allow_download=True) == "inception"
        assert folders[0].parent == weights_path.parent  # a private folder beside the target, not /tmp
        assert weights_path.read_bytes() == WEIGHTS and _leftovers(weights_path) == [fid.INCEPTION_FILENAME]

    @pytest.mark.parametrize("exc", [
        OSError("Network is unreachable"),
        urllib.error.URLError(OSError(-3, "Temporary failure in name resolution")),
        urllib.error.HTTPError(fid.INCEPTION_URL, 503, "Service Unavailable", None, None),
        OSError(28, "No space left on device"),
        http.client.IncompleteRead(b"partial"),
    ], ids=["oserror", "no-dns", "http-503", "disk-full", "cut-off"])
    def test_failed_download_is_a_clear_error(self, weights_path, monkeypatch, exc):
        _fail_with(monkeypatch, exc)
        with pytest.raises(fid.InceptionDownloadFailed) as info:
            fid.resolve_extractor("inception", allow_download=True)
        message = str(info.value)
        assert fid.INCEPTION_URL in message and str(weights_path) in message
        assert "random-conv-v1" in message  # the offline way out
        assert info.value.__cause__ is None and info.value.__suppress_context__  # no raw urllib traceback
        assert isinstance(info.value, OSError)  # the CLI's one-line error, exit 2
        assert _leftovers(weights_path) == []

    def test_auto_does_not_fall_back_when_an_allowed_download_fails(self, weights_path, monkeypatch):
        _fail_with(monkeypatch, urllib.error.URLError("no network"))
        with pytest.raises(fid.InceptionDownloadFailed, match="no network"):
            fid.resolve_extractor("auto", allow_download=True)

    def test_cut_off_download_through_clean_fid_leaves_nothing(self, weights_path, monkeypatch):
        """clean-fid opens its target before copying: a broken stream must not leave a partial file where
        fpbench reads."""

        class Broken(io.BytesIO):
            def read(self, *args):
                raise ConnectionResetError(104, "Connection reset by peer")

        monkeypatch.setattr(urllib.request, "urlopen", lambda url, *a, **k: Broken())
        with pytest.raises(fid.InceptionDownloadFailed, match="Connection reset by peer"):
            fid.resolve_extractor("inception", allow_download=True)
        assert _leftovers(weights_path) == []

    def test_downloaded_file_of_the_wrong_digest_is_not_kept(self, weights_path, monkeypatch):
        _serve(monkeypatch, WEIGHTS)
        with pytest.raises(fid.InceptionWeightsMismatch) as info:
            fid.resolve_extractor("inception", allow_download=True)
        assert hashlib.sha256(WEIGHTS).hexdigest() in str(info.value) and fid.INCEPTION_URL in str(info.value)
        assert _leftovers(weights_path) == []


class TestConfigField:
    def test_default_is_auto_and_shows_in_config_show(self):
        assert EvaluationConfig().fid_extractor == "auto"
        assert "fid_extractor: auto" in dump_yaml(PRESETS.get("smoke"))

    def test_round_trips_through_yaml(self, tmp_path):
        config = PRESETS.get("smoke").updated({"evaluation": {"fid_extractor": "random-conv-v1"}})
        text = dump_yaml(config)
        assert "fid_extractor: random-conv-v1" in text
        (tmp_path / "run.yaml").write_text(text, encoding="utf-8")
        loaded = load_config(tmp_path / "run.yaml")
        assert loaded == config and config_hash(loaded) == config_hash(config)
        assert config_hash(config) != config_hash(PRESETS.get("smoke"))  # the choice is part of the run

    def test_typo_is_refused_with_did_you_mean(self, tmp_path):
        (tmp_path / "run.yaml").write_text("extends: smoke\nevaluation: {fid_extractor: incepton}\n",
                                           encoding="utf-8")
        with pytest.raises(ConfigError, match="Did you mean 'inception'") as info:
            load_config(tmp_path / "run.yaml", {"smoke": PRESETS.get("smoke")})
        assert "fid_extractor" in str(info.value) and "random-conv-v1" in str(info.value)
        with pytest.raises(ValueError, match="fid_extractor"):
            EvaluationConfig(fid_extractor="inceptionv3")


class TestRunResolvesFirst:
    @pytest.fixture
    def no_stage(self, monkeypatch) -> None:
        """Any stage that runs fails the test (as an AssertionError, which no error boundary swallows)."""
        def stage(*args, **kwargs):
            raise AssertionError("a stage ran before the FID extractor was resolved")

        for name in ("load_real_images", "fingerprint_models"):
            monkeypatch.setattr(runner, name, stage)

    def test_missing_inception_is_refused_before_any_stage(self, weights_path, no_stage, tmp_path):
        preset = PRESETS.get("smoke").updated({"evaluation": {"fid_extractor": "inception"}})
        with pytest.raises(fid.InceptionWeightsMissing, match="--allow-download"):
            runner.run(preset, tmp_path / "out", cache=ArtifactCache(enabled=False), progress=False)
        assert not (tmp_path / "out").exists()

    def test_run_passes_the_config_choice_and_the_permission(self, monkeypatch, no_stage, tmp_path):
        import fpbench.pipeline.stages.context as context

        seen = []

        def resolve(extractor, *, allow_download=False):
            seen.append((extractor, allow_download))
            raise fid.InceptionDownloadFailed("stop here")

        monkeypatch.setattr(context, "resolve_extractor", resolve)
        preset = PRESETS.get("smoke").updated({"evaluation": {"fid_extractor": "inception"}})
        for allow in (False, True):
            with pytest.raises(fid.InceptionDownloadFailed):
                runner.run(preset, tmp_path / "out", cache=ArtifactCache(enabled=False), progress=False,
                           allow_download=allow)
        assert seen == [("inception", False), ("inception", True)]
