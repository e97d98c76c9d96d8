"""fpbench.fid trusts only verified Inception weights in its own cache folder (never clean-fid's /tmp)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import torch

import fpbench.fid as fid
from fpbench.cache import default_root

PLANTED = b"a planted file that would decide every FID"


@pytest.fixture
def cache_root(monkeypatch, tmp_path) -> Path:
    root = tmp_path / "cache-root"
    monkeypatch.setenv("FPBENCH_CACHE_DIR", str(root))
    return root


@pytest.fixture
def planted(cache_root) -> Path:
    path = cache_root / "weights" / fid.INCEPTION_FILENAME
    path.parent.mkdir(parents=True)
    path.write_bytes(PLANTED)
    return path


class TestWeightsLocation:
    def test_lookup_is_in_the_cache_root(self, cache_root):
        assert fid.inception_weights_path() == cache_root / "weights" / fid.INCEPTION_FILENAME
        assert fid.inception_weights_path() == default_root() / "weights" / fid.INCEPTION_FILENAME

    def test_lookup_follows_xdg_cache_home_not_tmp(self, monkeypatch, tmp_path):
        monkeypatch.delenv("FPBENCH_CACHE_DIR", raising=False)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert fid.inception_weights_path() == tmp_path / "xdg" / "fpbench" / "weights" / fid.INCEPTION_FILENAME
        assert fid.inception_weights_path() != Path("/tmp") / fid.INCEPTION_FILENAME

    def test_no_file_in_the_cache_root_resolves_offline(self, cache_root):
        """Whatever lies in /tmp (clean-fid's folder, writable by anyone), an empty cache root means
        random-conv-v1."""
        assert fid.resolve_extractor("auto") == "random-conv-v1"
        assert fid.extractor_key("auto") == "random-conv-v1"


class TestVerification:
    def test_digest_is_a_sha256(self):
        assert re.fullmatch(r"[0-9a-f]{64}", fid.INCEPTION_SHA256)

    def test_wrong_content_is_an_error_naming_both_digests(self, planted):
        actual = hashlib.sha256(PLANTED).hexdigest()
        with pytest.raises(fid.InceptionWeightsMismatch) as info:
            fid.resolve_extractor("auto")
        message = str(info.value)
        assert str(planted) in message
        assert fid.INCEPTION_SHA256 in message and actual in message
        assert "delete it" in message and fid.INCEPTION_URL in message  # the fix

    @pytest.mark.parametrize("call", [
        lambda: fid.resolve_extractor("auto"),
        lambda: fid.extractor_key("auto"),
        lambda: fid.extractor_key("inception"),
        lambda: fid.get_extractor("inception"),
        lambda: fid.compute_fid(torch.rand(4, 3, 8, 8), torch.rand(4, 3, 8, 8)),
    ], ids=["resolve-auto", "key-auto", "key-inception", "get-inception", "compute-fid-auto"])
    def test_no_path_uses_or_silently_skips_a_bad_file(self, planted, call):
        with pytest.raises(fid.InceptionWeightsMismatch):
            call()

    def test_mismatch_is_not_a_missing_file(self):
        """Code that falls back when weights are missing must not swallow a bad file."""
        assert not issubclass(fid.InceptionWeightsMismatch, FileNotFoundError)

    def test_missing_weights_say_where_and_what_to_fetch(self, cache_root):
        with pytest.raises(fid.InceptionWeightsMissing) as info:
            fid.extractor_key("inception")
        message = str(info.value)
        assert str(cache_root / "weights" / fid.INCEPTION_FILENAME) in message
        assert fid.INCEPTION_URL in message and fid.INCEPTION_SHA256 in message

    def test_verified_file_is_used_and_keys_the_cache(self, planted, monkeypatch):
        digest = hashlib.sha256(PLANTED).hexdigest()
        monkeypatch.setattr(fid, "INCEPTION_SHA256", digest)
        assert fid.verify_inception_weights() == planted
        assert fid.resolve_extractor("auto") == "inception"
        assert fid.extractor_key("auto") == f"inception:{digest[:16]}"

    def test_file_changed_after_resolution_is_caught_at_load(self, planted, monkeypatch):
        """InceptionClean checks the file itself, not a verdict from earlier in the run."""
        monkeypatch.setattr(fid, "INCEPTION_SHA256", hashlib.sha256(PLANTED).hexdigest())
        assert fid.resolve_extractor("auto") == "inception"
        planted.write_bytes(PLANTED + b"!")
        with pytest.raises(fid.InceptionWeightsMismatch):
            fid.InceptionClean()
