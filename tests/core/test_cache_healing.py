"""fpbench.cache heals damaged entries (checksum sidecars, load errors) and writes files others can read."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

import fpbench.cache as cache_module
from fpbench.atomic import write_atomic, write_text_atomic
from fpbench.cache import ArtifactCache, CacheWarning, checksum_path
from fpbench.results import row, to_frame
from fpbench.warnings import FpbenchWarning


def _tensors() -> dict[str, torch.Tensor]:
    return {"images": torch.arange(48, dtype=torch.uint8).view(4, 3, 2, 2), "w": torch.linspace(0, 1, 7)}


def _frame() -> pd.DataFrame:
    return to_frame([row(method="m", model="data", metric="bit_accuracy", value=0.75, n=8, stderr=0.01),
                     row(method="m", model="data", metric="psnr", value=41.5, n=8, attack="jpeg",
                         attack_kind="image", param=90, severity=0)])


def _empty(data: bytes) -> bytes:
    return b""


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _bit_flipped(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])  # in the tensor payload: still parses, other numbers


def _garbage(data: bytes) -> bytes:
    return b"\x00\xff\xfe not a table \"unterminated\n"


class _Counter:
    def __init__(self, make):
        self.make, self.calls = make, 0

    def __call__(self):
        self.calls += 1
        return self.make()


def _assert_equal_tensors(got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    assert sorted(got) == sorted(want)
    for name in want:
        assert got[name].dtype == want[name].dtype and torch.equal(got[name], want[name])


def _recompute_once_then_hit(cache: ArtifactCache, read, path: Path) -> None:
    """The damaged entry gives exactly one CacheWarning (naming the file, raised at the caller) and a
    recomputed value; the read after that is a plain hit."""
    with pytest.warns(CacheWarning) as record:
        read()
    assert len(record) == 1
    message = str(record[0].message)
    assert str(path) in message and "recomputing" in message
    assert record[0].filename == __file__  # points at the code that asked the cache, not at cache.py
    assert isinstance(record[0].message, FpbenchWarning) and isinstance(record[0].message, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read()
    assert _sidecar_matches(path)


def _sidecar_matches(path: Path) -> bool:
    digest, name = checksum_path(path).read_text().split()
    return digest == hashlib.sha256(path.read_bytes()).hexdigest() and name == path.name


class TestChecksums:
    def test_every_entry_gets_a_sha256sum_sidecar(self, tmp_path):
        cache = ArtifactCache(tmp_path)
        cache.tensors("data", "t", _tensors)
        cache.rows("rows", "r", _frame)
        for path in (cache.path("data", "t", "safetensors"), cache.path("rows", "r", "csv")):
            assert checksum_path(path) == path.parent / (path.name + ".sha256")
            assert _sidecar_matches(path)

    def test_a_stale_sidecar_is_gone_before_the_new_file_lands(self, tmp_path, monkeypatch):
        """A sidecar left without its file must not judge (and so delete) the file written next."""
        cache = ArtifactCache(tmp_path)
        path = cache.path("data", "t", "safetensors")
        path.parent.mkdir(parents=True)
        checksum_path(path).write_text("0" * 64 + "  t.safetensors\n")
        seen = []

        def spying_write_atomic(target, write):
            if target == path:
                seen.append(checksum_path(path).exists())
            return write_atomic(target, write)

        monkeypatch.setattr(cache_module, "write_atomic", spying_write_atomic)
        cache.tensors("data", "t", _tensors)
        assert seen == [False]
        assert _sidecar_matches(path)


class TestDamagedTensorsHeal:
    @pytest.mark.parametrize("damage", [_empty, _truncated, _bit_flipped], ids=["empty", "truncated", "bit-flip"])
    def test_damaged_entry_is_recomputed(self, tmp_path, damage):
        cache = ArtifactCache(tmp_path)
        compute = _Counter(_tensors)
        cache.tensors("data", "k", compute)
        path = cache.path("data", "k", "safetensors")
        path.write_bytes(damage(path.read_bytes()))

        _recompute_once_then_hit(cache, lambda: _assert_equal_tensors(cache.tensors("data", "k", compute),
                                                                       _tensors()), path)
        assert compute.calls == 2
        assert cache.misses == ["data/k", "data/k"] and cache.hits == ["data/k"]

    @pytest.mark.parametrize("damage", [_empty, _truncated], ids=["empty", "truncated"])
    def test_damaged_entry_without_sidecar_is_recomputed(self, tmp_path, damage):
        """A file from before checksums (or a killed run) that does not load: the load error heals it."""
        cache = ArtifactCache(tmp_path)
        compute = _Counter(_tensors)
        cache.tensors("data", "k", compute)
        path = cache.path("data", "k", "safetensors")
        checksum_path(path).unlink()
        path.write_bytes(damage(path.read_bytes()))

        with pytest.warns(CacheWarning, match="does not load"):
            cache.tensors("data", "k", compute)
        assert compute.calls == 2 and _sidecar_matches(path)

    def test_unreadable_sidecar_counts_as_a_mismatch(self, tmp_path):
        cache = ArtifactCache(tmp_path)
        compute = _Counter(_tensors)
        cache.tensors("data", "k", compute)
        path = cache.path("data", "k", "safetensors")
        checksum_path(path).write_text("")
        with pytest.warns(CacheWarning, match="nothing readable"):
            cache.tensors("data", "k", compute)
        assert compute.calls == 2 and _sidecar_matches(path)


class TestLegacyEntries:
    """Entries written before sidecars existed still load: an upgrade recomputes nothing."""

    def test_legacy_tensors_load_and_get_a_sidecar(self, tmp_path):
        cache = ArtifactCache(tmp_path)
        cache.tensors("data", "k", _tensors)
        path = cache.path("data", "k", "safetensors")
        checksum_path(path).unlink()

        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = cache.tensors("data", "k", lambda: pytest.fail("a legacy entry that loads is a hit"))
        _assert_equal_tensors(got, _tensors())
        assert cache.hits == ["data/k"] and _sidecar_matches(path)

    def test_legacy_rows_load_and_get_a_sidecar(self, tmp_path):
        cache = ArtifactCache(tmp_path)
        cache.rows("rows", "k", _frame)
        path = cache.path("rows", "k", "csv")
        checksum_path(path).unlink()
        back = cache.rows("rows", "k", lambda: pytest.fail("a legacy entry that loads is a hit"))
        pd.testing.assert_frame_equal(back, _frame())
        assert _sidecar_matches(path)

    def test_read_only_cache_still_loads_legacy_entries(self, tmp_path, monkeypatch):
        cache = ArtifactCache(tmp_path)
        cache.tensors("data", "k", _tensors)
        checksum_path(cache.path("data", "k", "safetensors")).unlink()

        def refuse(path, digest):
            raise PermissionError(13, "Permission denied", str(checksum_path(path)))

        monkeypatch.setattr(ArtifactCache, "_write_checksum", staticmethod(refuse))
        got = cache.tensors("data", "k", lambda: pytest.fail("a legacy entry that loads is a hit"))
        _assert_equal_tensors(got, _tensors())


class TestDamagedRowsHeal:
    @pytest.mark.parametrize("damage", [_garbage, _truncated, _empty], ids=["garbage", "truncated", "empty"])
    def test_damaged_rows_are_recomputed(self, tmp_path, damage):
        cache = ArtifactCache(tmp_path)
        compute = _Counter(_frame)
        cache.rows("rows", "k", compute)
        path = cache.path("rows", "k", "csv")
        path.write_bytes(damage(path.read_bytes()))

        _recompute_once_then_hit(cache, lambda: pd.testing.assert_frame_equal(cache.rows("rows", "k", compute),
                                                                               _frame()), path)
        assert compute.calls == 2

    @pytest.mark.parametrize("damage", [_garbage, _empty], ids=["garbage", "empty"])
    def test_unparseable_rows_without_sidecar_are_recomputed(self, tmp_path, damage):
        cache = ArtifactCache(tmp_path)
        compute = _Counter(_frame)
        cache.rows("rows", "k", compute)
        path = cache.path("rows", "k", "csv")
        checksum_path(path).unlink()
        path.write_bytes(damage(path.read_bytes()))

        with pytest.warns(CacheWarning, match=re.escape(str(path)) + ".*does not load"):
            back = cache.rows("rows", "k", compute)
        pd.testing.assert_frame_equal(back, _frame())
        assert compute.calls == 2 and _sidecar_matches(path)


@pytest.fixture
def strict_umask():
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def group_write_umask():
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestShareableFiles:
    """Another user sharing the cache or the results folder can read them, whatever the writer's umask."""

    def test_cache_files_and_folders_readable_under_umask_077(self, tmp_path, strict_umask):
        cache = ArtifactCache(tmp_path / "cache")
        cache.tensors("data", "t", _tensors)
        cache.rows("rows", "r", _frame)
        for path in (cache.path("data", "t", "safetensors"), cache.path("rows", "r", "csv")):
            assert _mode(path) == 0o644
            assert _mode(checksum_path(path)) == 0o644
        for folder in (tmp_path / "cache", tmp_path / "cache" / "data", tmp_path / "cache" / "rows"):
            assert _mode(folder) == 0o755

    def test_file_artifact_folder_is_listable(self, tmp_path, strict_umask):
        path = ArtifactCache(tmp_path / "cache").file("fingerprint", "abc", "safetensors")
        assert _mode(path.parent) == 0o755 and _mode(tmp_path / "cache") == 0o755

    def test_results_written_atomically_are_readable(self, tmp_path, strict_umask):
        """results.csv and manifest.json go through write_atomic too."""
        write_text_atomic(tmp_path / "run" / "results.csv", "a,b\n1,2\n")
        write_text_atomic(tmp_path / "run" / "manifest.json", "{}\n")
        assert _mode(tmp_path / "run" / "results.csv") == 0o644
        assert _mode(tmp_path / "run" / "manifest.json") == 0o644
        assert _mode(tmp_path / "run") == 0o755

    def test_writer_that_replaces_the_temp_file_still_gives_0644(self, tmp_path, strict_umask):
        def replace(p: Path) -> None:
            other = p.with_name("other")
            other.write_text("x")  # created under umask 077: 0600
            os.replace(other, p)

        write_atomic(tmp_path / "f.txt", replace)
        assert _mode(tmp_path / "f.txt") == 0o644

    def test_umask_still_decides_group_write(self, tmp_path, group_write_umask):
        cache = ArtifactCache(tmp_path / "cache")
        cache.tensors("data", "t", _tensors)
        assert _mode(cache.path("data", "t", "safetensors")) == 0o664
        assert _mode(tmp_path / "cache" / "data") == 0o775

    def test_existing_folders_keep_their_mode(self, tmp_path, strict_umask):
        (tmp_path / "cache").mkdir(mode=0o700)
        os.chmod(tmp_path / "cache", 0o700)
        ArtifactCache(tmp_path / "cache").tensors("data", "t", _tensors)
        assert _mode(tmp_path / "cache") == 0o700  # the owner chose it; only new folders are opened up
        assert _mode(tmp_path / "cache" / "data") == 0o755
