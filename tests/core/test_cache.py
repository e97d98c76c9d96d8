"""fpbench.cache (config_hash, ArtifactCache) and fpbench.atomic (no partial files on failure)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from fpbench.atomic import write_atomic, write_json_atomic
from fpbench.cache import ArtifactCache, config_hash
from fpbench.data.builtin import BuiltinData
from fpbench.fingerprint.training import FingerprintTrainConfig
from fpbench.results import row, to_frame

BASE = FingerprintTrainConfig(n_bits=32, resolution=32, steps=40)


def _changed(value: object) -> object:
    if value is None:
        return 30  # valid for every optional field (a step, a PSNR in dB)
    if isinstance(value, bool):
        return not value
    if isinstance(value, tuple):  # the training perturbations: another valid choice
        return ("jpeg",) if value != ("jpeg",) else ()
    if isinstance(value, (int, float)):
        return value + 1
    return str(value) + "_x"


class TestConfigHash:
    def test_stable_within_process(self):
        assert config_hash(BASE) == config_hash(FingerprintTrainConfig(n_bits=32, resolution=32, steps=40))
        assert len(config_hash(BASE)) == 16

    def test_stable_across_processes(self):
        """Same key in a fresh interpreter with another hash seed (no dependence on set/dict order)."""
        code = ("from fpbench.fingerprint.training import FingerprintTrainConfig as C; from fpbench.cache import "
                "config_hash; print(config_hash(C(n_bits=32, resolution=32, steps=40), {'b': 1, 'a': [1, 2]}))")
        env = {**os.environ, "PYTHONHASHSEED": "12345"}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                             cwd=Path(__file__).resolve().parents[2])
        assert out.stdout.strip() == config_hash(BASE, {"a": [1, 2], "b": 1})

    @pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(FingerprintTrainConfig)])
    def test_every_field_changes_the_hash(self, field):
        # an immunising phase needs perturbations to train through: change it on a config that has them
        base = dataclasses.replace(BASE, perturbations=("jpeg",)) if field == "immunise_steps" else BASE
        changed = dataclasses.replace(base, **{field: _changed(getattr(base, field))})
        assert config_hash(changed) != config_hash(base)

    @pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(BuiltinData)])
    def test_every_data_field_changes_the_hash(self, field):
        base = BuiltinData("train", 8, 32)
        changed = dataclasses.replace(base, **{field: _changed(getattr(base, field))})
        assert config_hash(changed) != config_hash(base)

    def test_type_name_is_part_of_the_key(self):
        @dataclasses.dataclass(frozen=True)
        class A:
            x: int = 1

        @dataclasses.dataclass(frozen=True)
        class B:
            x: int = 1

        assert config_hash(A()) != config_hash(B())

    def test_tensor_content_is_hashed(self):
        t = torch.arange(12, dtype=torch.uint8)
        assert config_hash(BASE, t) == config_hash(BASE, t.clone())
        t2 = t.clone()
        t2[5] += 1
        assert config_hash(BASE, t2) != config_hash(BASE, t)

    def test_numerically_equal_values_hash_equal(self):
        """A YAML file reads ``l2_weight: 30`` back as the float field's 30.0: same config, same key."""
        assert config_hash(dataclasses.replace(BASE, l2_weight=30)) == config_hash(dataclasses.replace(BASE, l2_weight=30.0))
        assert config_hash(dataclasses.replace(BASE, l2_weight=30.5)) != config_hash(dataclasses.replace(BASE, l2_weight=30))

    def test_part_order_matters(self):
        assert config_hash("a", "b") != config_hash("b", "a")


class TestArtifactCache:
    def test_tensors_miss_then_hit(self, tmp_path):
        calls = []

        def compute():
            calls.append(1)
            return {"images": torch.arange(6, dtype=torch.uint8).view(2, 3)}

        cache = ArtifactCache(tmp_path)
        first = cache.tensors("data", "k1", compute)
        second = cache.tensors("data", "k1", compute)
        assert len(calls) == 1
        assert torch.equal(first["images"], second["images"]) and second["images"].dtype == torch.uint8
        assert cache.misses == ["data/k1"] and cache.hits == ["data/k1"]
        assert (tmp_path / "data" / "k1.safetensors").is_file()
        # a fresh cache object over the same root (a new process) also hits
        again = ArtifactCache(tmp_path)
        again.tensors("data", "k1", compute)
        assert len(calls) == 1 and again.hits == ["data/k1"]

    def test_different_keys_do_not_collide(self, tmp_path):
        cache = ArtifactCache(tmp_path)
        a = cache.tensors("data", "a", lambda: {"x": torch.zeros(2)})
        b = cache.tensors("data", "b", lambda: {"x": torch.ones(2)})
        assert not torch.equal(a["x"], b["x"])
        assert cache.misses == ["data/a", "data/b"]

    def test_disabled_cache_recomputes_and_writes_nothing(self, tmp_path):
        calls = []
        cache = ArtifactCache(tmp_path / "c", enabled=False)
        for _ in range(2):
            cache.tensors("data", "k", lambda: calls.append(1) or {"x": torch.zeros(1)})
        assert len(calls) == 2 and cache.hits == []
        assert not (tmp_path / "c" / "data" / "k.safetensors").exists()

    def test_rows_round_trip_keeps_dtypes(self, tmp_path):
        df = to_frame([row(method="m", model="data", metric="bit_accuracy", value=0.75, n=8, stderr=0.01),
                       row(method="m", model="data", metric="psnr", value=41.5, n=8, attack="jpeg",
                           attack_kind="image", param=90, severity=0)])
        cache = ArtifactCache(tmp_path)
        cache.rows("rows", "k", lambda: df)
        back = cache.rows("rows", "k", lambda: pytest.fail("should hit the cache"))
        pd.testing.assert_frame_equal(back, df)

    def test_file_creates_the_stage_folder(self, tmp_path):
        path = ArtifactCache(tmp_path).file("fingerprint", "abc", "safetensors")
        assert path == tmp_path / "fingerprint" / "abc.safetensors"
        assert path.parent.is_dir() and not path.exists()

    def test_env_var_sets_default_root(self, tmp_path, monkeypatch):
        monkeypatch.setenv("FPBENCH_CACHE_DIR", str(tmp_path / "envcache"))
        assert ArtifactCache().root == tmp_path / "envcache"


class TestAtomicWrite:
    def test_writes_and_leaves_no_temp_files(self, tmp_path):
        write_json_atomic(tmp_path / "sub" / "a.json", {"b": 1, "a": [1, 2]})
        assert (tmp_path / "sub" / "a.json").read_text().startswith("{")
        assert [p.name for p in (tmp_path / "sub").iterdir()] == ["a.json"]

    def test_failure_keeps_old_file_and_removes_temp(self, tmp_path):
        target = tmp_path / "results.csv"
        target.write_text("old complete content\n")

        def half_write(p: Path) -> None:
            p.write_text("partial")
            raise RuntimeError("disk full")

        with pytest.raises(RuntimeError, match="disk full"):
            write_atomic(target, half_write)
        assert target.read_text() == "old complete content\n"
        assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]

    def test_failure_on_new_file_leaves_nothing(self, tmp_path):
        def fail(p: Path) -> None:
            p.write_bytes(b"abc")
            raise OSError("boom")

        with pytest.raises(OSError, match="boom"):
            write_atomic(tmp_path / "new.bin", fail)
        assert list(tmp_path.iterdir()) == []
