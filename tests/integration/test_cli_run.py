"""`fpbench run --preset smoke` end to end through fpbench.pipeline.cli.main: one cold run and one warm (cached)
rerun, shared by every test of the module."""

from __future__ import annotations

import contextlib
import io
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from fpbench.fingerprint.training import TrainingWarning
from fpbench.metrics import METRICS
from fpbench.pipeline.cli import main
from fpbench.results import read_results, validate


@dataclass
class Run:
    code: int
    out: Path
    stdout: str
    seconds: float
    training_warnings: list[str]

    @property
    def manifest(self) -> dict:
        return json.loads((self.out / "manifest.json").read_text())


def run_cli(out: Path, cache: Path) -> Run:
    torch.set_num_threads(1)
    buf = io.StringIO()
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(buf):
        # the smoke preset is too short to reach the activation accuracy; that warning is checked below,
        # every other warning stays an error
        warnings.filterwarnings("always", category=TrainingWarning)
        code = main(["run", "--preset", "smoke", "--out", str(out), "--cache-dir", str(cache), "--quiet"])
    seconds = time.perf_counter() - start
    others = [w for w in caught if not issubclass(w.category, TrainingWarning)]
    assert not others, [str(w.message) for w in others]
    return Run(code, out, buf.getvalue(), seconds, [str(w.message) for w in caught])


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def cold(tmp_path_factory, cache_dir) -> Run:
    return run_cli(tmp_path_factory.mktemp("cold"), cache_dir)


@pytest.fixture(scope="module")
def warm(cold, tmp_path_factory, cache_dir) -> Run:
    return run_cli(tmp_path_factory.mktemp("warm"), cache_dir)


class TestSmokeRun:
    def test_exit_code_and_summary(self, cold):
        assert cold.code == 0
        assert "bit_accuracy" in cold.stdout and "results.csv" in cold.stdout

    def test_results_validate(self, cold):
        df = read_results(cold.out / "results.csv")
        assert validate(df) == []
        assert len(df) > 0 and (df["n"] > 0).all()
        assert set(df["metric"]) <= set(METRICS.ids())
        data = df[(df["model"] == "data") & (df["attack"] == "none")].set_index("metric")["value"]
        for metric in ("bit_accuracy", "p_value", "psnr", "ssim"):
            assert metric in data.index
        assert 0 <= data["bit_accuracy"] <= 1 and 0 <= data["p_value"] <= 1

    def test_zoo_rows_pool_every_fingerprinted_sample(self, cold):
        df = read_results(cold.out / "results.csv")
        for metric in ("attribution_accuracy", "detection_accuracy"):
            rows = df[(df["attack"] == "none") & (df["metric"] == metric)
                      & (df["method"] == "artificial_fingerprint") & (df["world"] == "closed")].set_index("model")
            models = rows.drop(index=["zoo", "data"])  # the zoo pools generated samples, not the stamped photos
            assert len(models) >= 1 and "zoo" in rows.index
            # pooled samples: the n-weighted mean of the per-model rows (results.csv keeps 10 significant digits)
            if metric == "attribution_accuracy":
                expected = (models["value"] * models["n"]).sum() / models["n"].sum()
                assert rows.loc["zoo", "n"] == models["n"].sum()
                assert rows.loc["zoo", "value"] == pytest.approx(expected, abs=1e-9)
            assert models["value"].min() - 1e-9 <= rows.loc["zoo", "value"] <= models["value"].max() + 1e-9

    def test_zoo_transfer_pools_every_fingerprinted_sample(self, cold):
        df = read_results(cold.out / "results.csv")
        rows = df[(df["attack"] == "none") & (df["metric"] == "bit_accuracy")
                  & (df["method"] == "artificial_fingerprint")].set_index("model")
        models = rows.drop(index=["zoo", "data"])
        assert len(models) >= 1
        assert rows.loc["zoo", "n"] == models["n"].sum()
        assert rows.loc["zoo", "value"] == pytest.approx((models["value"] * models["n"]).sum() / models["n"].sum(),
                                                         abs=1e-9)

    def test_manifest(self, cold):
        m = cold.manifest
        assert m["preset"] == "smoke"
        assert isinstance(m["config_hash"], str) and len(m["config_hash"]) == 16
        assert torch.__version__.startswith(m["packages"]["torch"])  # metadata drops the local "+cu..." tag
        assert {"data", "fingerprint", "evaluate_data"} <= set(m["stage_seconds"])
        assert all(isinstance(v, float | int) and v >= 0 for v in m["stage_seconds"].values())
        assert m["cache_hits"] == [] and any(k.startswith("fingerprint/") for k in m["cache_misses"])

    def test_activation_warning_is_consistent(self, cold):
        """Either the L2 schedule switched on, or the user was warned that it never did."""
        activated = cold.manifest.get("fingerprint_activated_at")
        told = cold.training_warnings + cold.manifest.get("warnings", [])  # raised, or recorded by the runner
        if activated is None:
            assert any("never switched on" in w for w in told)
        else:
            assert not any("never switched on" in w for w in told)

    def test_no_partial_checkpoint_left(self, cold, cache_dir):
        assert list(cache_dir.rglob("*.partial.pt")) == []
        assert list(cache_dir.rglob("*.tmp")) == []


class TestWarmRun:
    def test_hits_cache_and_is_faster(self, cold, warm):
        assert warm.code == 0
        hits = warm.manifest["cache_hits"]
        assert any(k.startswith("fingerprint/") for k in hits) and any(k.startswith("data/") for k in hits)
        assert not any(k.startswith(("fingerprint/", "data/")) for k in warm.manifest["cache_misses"])
        assert warm.training_warnings == []  # nothing was trained
        assert warm.seconds < cold.seconds

    def test_same_numbers(self, cold, warm):
        a, b = read_results(cold.out / "results.csv"), read_results(warm.out / "results.csv")
        assert a.drop(columns="value").equals(b.drop(columns="value"))
        assert a["value"].tolist() == pytest.approx(b["value"].tolist(), rel=1e-6, nan_ok=True)
        assert cold.manifest["config_hash"] == warm.manifest["config_hash"]


class TestCliErrors:
    def test_paper_preset_needs_data(self, tmp_path, capsys):
        code = main(["run", "--preset", "paper", "--out", str(tmp_path / "o"), "--cache-dir", str(tmp_path / "c"),
                     "--quiet"])
        assert code == 2
        assert "--data" in capsys.readouterr().err

    def test_unknown_preset_did_you_mean(self, tmp_path, capsys):
        code = main(["run", "--preset", "smok", "--out", str(tmp_path / "o"), "--quiet"])
        assert code == 2
        err = capsys.readouterr().err
        assert "unknown preset 'smok'" in err and "Did you mean 'smoke'" in err
        assert not (tmp_path / "o").exists()


def test_a_model_card_stamped_by_the_run_joins_the_smoke_run(cold, cache_dir, tmp_path):
    """Issue 16: a folder of photos stamped by the smoke run's own encoder with a fingerprint of its own, added
    with --model-card, gets rows under every image attack and is attributed to itself among the zoo's."""
    from PIL import Image

    from fpbench.data.builtin import BuiltinData, crops
    from fpbench.fingerprint.checkpoint import load_models
    from fpbench.fingerprint.embedding import bits_to_str, embed, random_fingerprint
    from fpbench.pipeline.presets import get_preset

    checkpoints = sorted((cache_dir / "fingerprint").glob("*.safetensors"))
    assert len(checkpoints) == 1  # the run's one fingerprint model
    models = load_models(checkpoints[0])
    fingerprint = random_fingerprint(models.n_bits, 4242)
    stamped = embed(models.encoder, crops(BuiltinData("holdout", 64, models.resolution, seed=7)), fingerprint)
    (tmp_path / "imgs").mkdir()
    for i, image in enumerate(stamped):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(tmp_path / "imgs" / f"{i:03d}.png")
    card = tmp_path / "card.yaml"
    card.write_text(f'id: mine\nfingerprint: "{bits_to_str(fingerprint)}"\nn_bits: {models.n_bits}\n'
                    f"resolution: {models.resolution}\nfolder: imgs\n")
    torch.set_num_threads(1)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        code = main(["run", "--preset", "smoke", "--model-card", str(card), "--out", str(tmp_path / "out"),
                     "--cache-dir", str(cache_dir), "--quiet"])
    assert code == 0
    df = read_results(tmp_path / "out" / "results.csv")
    mine = df[df["model"] == "mine"]
    assert set(get_preset("smoke").image_attacks.attacks) <= set(mine["attack"])
    clean = mine[(mine["attack"] == "none") & (mine["metric"] == "attribution_accuracy")]
    assert float(clean["value"].iloc[0]) >= 0.9  # attributed to itself among data, the zoo's and its own
    assert set(json.loads((tmp_path / "out" / "manifest.json").read_text())["config"]["models"]) == {str(card)}
