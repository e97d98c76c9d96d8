"""The adaptive stage on a tiny fake run: valid rows, budgets, PSNR as computed directly, outputs, cache."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from fpbench.attacks.registry import get_attack
from fpbench.cache import ArtifactCache, config_hash
from fpbench.fingerprint.checkpoint import FingerprintModels
from fpbench.fingerprint.embedding import random_fingerprint, to_uint8
from fpbench.fingerprint.training import FingerprintTrainConfig
from fpbench.metrics import psnr
from fpbench.pipeline.config import AdaptiveConfig, EvaluationConfig
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.stages.adaptive import adversary_models, run_adaptive
from fpbench.pipeline.stages.codec import paper_codec
from fpbench.pipeline.stages.context import RunContext
from fpbench.pipeline.stages.data import RealImages
from fpbench.pipeline.stages.generators import Zoo
from fpbench.reports.adaptive import best_success
from fpbench.results import to_frame, validate
from fpbench.spectra import SPECTRA_FILE, read_spectra

ATTACKS = ("overwrite", "surrogate_pgd", "whitebox_pgd", "embedding_pgd_autoencoder", "embedding_pgd_resnet18",
           "embedding_pgd_surrogate", "regeneration", "purification", "averaging", "forgery_surrogate",
           "forgery_copy", "detectability_srm", "detectability_cnn")


@pytest.fixture
def run(tmp_path, helpers):
    enc, dec = helpers.codec(0)
    smoke = get_preset("smoke")
    preset = replace(
        smoke, data=replace(smoke.data, resolution=16),
        fingerprint=FingerprintTrainConfig(n_bits=helpers.bits, resolution=16, steps=1),
        adaptive=AdaptiveConfig(
            attacks=ATTACKS, samples=8, detect_test=8, pgd_steps=3, cnn_steps=5, autoencoder_steps=3, denoiser_steps=3,
            adversary=FingerprintTrainConfig(n_bits=6, resolution=16, steps=3, batch_size=8,
                                             fallback_activation_step=1, checkpoint_every=0, seed=9)),
        evaluation=EvaluationConfig(alpha=1e-2, grids={
            "overwrite": (0.0, 1.0), "surrogate_pgd": (4,), "whitebox_pgd": (2, 8), "regeneration": (0.1,),
            "purification": (0.05,), "embedding_pgd_autoencoder": (4,), "embedding_pgd_resnet18": (4,),
            "embedding_pgd_surrogate": (4,),
            "averaging": (4, 16), "forgery_surrogate": (4,), "forgery_copy": (16,), "detectability_srm": (8,),
            "detectability_cnn": (4,)}),
    )
    u8 = lambda x: to_uint8(x)  # noqa: E731
    real = RealImages(train=u8(helpers.smooth(16, 1)), test=u8(helpers.smooth(24, 2)), holdout=u8(helpers.smooth(32, 3)),
                      source="fake", reference=u8(helpers.smooth(8, 4)))
    fps = {"data": random_fingerprint(helpers.bits, 42), "g1": random_fingerprint(helpers.bits, 1)}
    zoo = Zoo(fingerprints=fps, generators={"g1": torch.nn.Identity(), "clean": torch.nn.Identity()}, configs={},
              samples={"g1": u8(helpers.plant(helpers.smooth(40, 5), fps["g1"])), "clean": u8(helpers.smooth(40, 6))},
              clean_ids=["clean"])

    def make_ctx(out):
        lineage = {"data": real.key, "fingerprint": config_hash(enc.state_dict(), dec.state_dict())}
        return RunContext(preset=preset, cache=ArtifactCache(tmp_path / "cache"), out=out, progress=False,
                          lineage=lineage)

    return make_ctx, FingerprintModels(enc, dec), real, zoo, tmp_path


# the 3-step adversary never reaches the 0.9 activation accuracy: its TrainingWarning is expected here
@pytest.mark.filterwarnings("ignore::fpbench.fingerprint.training.TrainingWarning")
class TestAdaptiveStage:
    def test_rows_outputs_and_cache(self, run):
        make_ctx, models, real, zoo, tmp = run
        real_before = real.test.clone()
        ctx = make_ctx(tmp / "out")
        run_adaptive(ctx, paper_codec(ctx, models, ctx.lineage["fingerprint"]), real, zoo)
        df = to_frame(ctx.rows)
        assert validate(df) == []
        assert set(df["attack_kind"]) == {"adaptive"}
        assert set(df["attack"]) == set(ATTACKS)
        assert set(df["model"]) == {"data", "g1"}
        assert torch.equal(real.test, real_before)
        spectra = read_spectra(tmp / "out" / SPECTRA_FILE)
        assert set(spectra) == {"data", "g1"} and all(s.shape == (16, 16) for s in spectra.values())
        det = df[df["attack"] == "detectability_srm"]
        assert set(det["metric"]) == {"detection_accuracy", "auc"} and (det["n"] == 16).all()
        assert det["stderr"].notna().all()
        removal = df[(df["attack"] == "whitebox_pgd") & (df["metric"] == "attack_success_rate")]
        assert sorted(removal["param"]) == [2.0, 2.0, 8.0, 8.0] and removal["value"].between(0, 1).all()
        # a warm rerun reads every frame from the cache and gives the same rows
        ctx2 = make_ctx(tmp / "out2")
        run_adaptive(ctx2, paper_codec(ctx2, models, ctx2.lineage["fingerprint"]), real, zoo)
        assert ctx2.cache.misses == []
        again = to_frame(ctx2.rows)
        rounded = ["value", "stderr", "ci_low", "ci_high"]  # the cache writes floats at 10 digits
        assert again.drop(columns=rounded).equals(df.drop(columns=rounded))
        for col in ("value", "stderr"):  # the cache stores 10 significant digits
            assert np.allclose(again[col], df[col], rtol=1e-9, atol=0, equal_nan=True)

    def test_reported_psnr_equals_a_direct_computation(self, run):
        make_ctx, models, real, zoo, tmp = run
        ctx = make_ctx(tmp / "out")
        run_adaptive(ctx, paper_codec(ctx, models, ctx.lineage["fingerprint"]), real, zoo)
        adv, _ = adversary_models(ctx, real)
        images = zoo.samples["g1"][:8].float() / 255
        attacked = get_attack("averaging")(images, 16, seed=ctx.preset.seed, pool=zoo.samples["g1"][8:])
        reported = next(r for r in ctx.rows if r.attack == "averaging" and r.model == "g1" and r.param == 16
                        and r.metric == "psnr")
        assert reported.value == pytest.approx(float(psnr(attacked, images).mean()), rel=1e-6)
        attacked = get_attack("surrogate_pgd")(images, 4, seed=ctx.preset.seed, surrogate_decoder=adv.decoder, pgd_steps=3)
        reported = next(r for r in ctx.rows if r.attack == "surrogate_pgd" and r.model == "g1" and r.metric == "psnr")
        assert reported.value == pytest.approx(float(psnr(attacked, images).mean()), rel=1e-6)
        assert 20 * math.log10(255 / 4) <= reported.value  # within the L-inf budget

    def test_best_success_respects_the_psnr_floor(self, run):
        make_ctx, models, real, zoo, tmp = run
        ctx = make_ctx(tmp / "out")
        run_adaptive(ctx, paper_codec(ctx, models, ctx.lineage["fingerprint"]), real, zoo)
        table = best_success(to_frame(ctx.rows))
        ok = table.dropna(subset=["best_success"])
        assert (ok["psnr"] >= ok["min_psnr"]).all()
        assert set(table["min_psnr"]) == {30.0, 25.0}

    def test_the_denoiser_is_trained_when_needed_and_keys_the_adversary(self, run):
        make_ctx, models, real, zoo, tmp = run
        ctx = make_ctx(tmp / "out")
        adv, key = adversary_models(ctx, real)
        assert adv.denoiser is not None
        images = zoo.samples["g1"][:8].float() / 255
        run_adaptive(ctx, paper_codec(ctx, models, ctx.lineage["fingerprint"]), real, zoo)
        reported = next(r for r in ctx.rows if r.attack == "purification" and r.model == "g1" and r.metric == "psnr")
        attacked = get_attack("purification")(images, 0.05, seed=ctx.preset.seed, denoiser=adv.denoiser)
        assert reported.value == pytest.approx(float(psnr(attacked, images).mean()), rel=1e-6)
        more = replace(ctx.preset.adaptive, denoiser_steps=4)
        ctx.preset = replace(ctx.preset, adaptive=more)
        assert adversary_models(ctx, real)[1] != key  # the denoiser's budget is part of the adversary's key
        ctx.preset = replace(ctx.preset, adaptive=replace(more, attacks=("overwrite",)))
        adv, _ = adversary_models(ctx, real)
        assert adv.denoiser is None  # no attack of the run needs one

    def test_nothing_to_do(self, run):
        make_ctx, models, real, zoo, tmp = run
        ctx = make_ctx(tmp / "out")
        ctx.preset = replace(ctx.preset, adaptive=replace(ctx.preset.adaptive, attacks=()))
        run_adaptive(ctx, paper_codec(ctx, models, ctx.lineage["fingerprint"]), real, zoo)
        assert ctx.rows == []
