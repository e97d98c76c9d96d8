"""The ``paper`` preset's code path end to end: 128 px, 100-bit fingerprints, the sigmoid encoder, DCGAN and
ResNet generators, every stage and every attack of the preset, on a small folder of photo crops. Only step
counts and sample counts (batch sizes, per-class and per-source images, the grids whose values count
images or fine-tuning steps) are shrunk, so that the run takes minutes on one CPU core; what is measured is
that the path runs, not the paper's numbers. ``tox -e paper-path``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from fpbench.cache import ArtifactCache
from fpbench.data.builtin import BuiltinData, crops
from fpbench.pipeline.config import to_dict
from fpbench.pipeline.presets import get_preset
from fpbench.pipeline.runner import run
from fpbench.pipeline.validate import data_problems
from fpbench.results import read_results, validate
from fpbench.spectra import SPECTRA_FILE, read_spectra

pytestmark = pytest.mark.slow

RESOLUTION, N_BITS = 128, 100
FOLDER = {"train": 48, "test": 6, "holdout": 6}  # crops of each built-in split's photos: 60 files, split 48/6/6

# the model attacks that train, in steps
TRAINING_GRIDS = {"finetuning": [0, 1, 2], "lora_finetuning": [0, 1], "finetune_last_layers": [0, 1],
                  "retrain_last_layers": [0, 1], "distillation": [1, 2]}
# the adversary's pools hold 6 held-out photos and 12 - 2 samples of the attacked generator
POOL_GRIDS = {"averaging": [2, 4], "forgery_surrogate": [2, 4], "forgery_copy": [2, 4],
              "detectability_srm": [2, 4], "detectability_cnn": [2, 4]}


def shrunk_paper():
    """The paper preset with every step count and sample count cut down, nothing else changed."""
    paper = get_preset("paper")
    # the fidelity (L2) loss switches on after 2 steps, as the authors' schedule does after thousands
    short = {"steps": 4, "batch_size": 4, "l2_await": 1, "l2_ramp": 2, "fallback_activation_step": 2}
    generators = [{**to_dict(g), "steps": 2 if g.arch == "dcgan" else 1, "batch_size": 4} for g in paper.zoo.generators]
    return paper.updated({
        "fingerprint": short,
        "zoo": {"generators": generators, "n_samples": 12},
        "image_attacks": {"samples": 2},
        "baselines": {"train_per_class": 4, "epochs": 1, "attack_samples": 2},
        "model_attacks": {"finetune_steps": 1},
        "adaptive": {"samples": 2, "detect_test": 2, "pgd_steps": 1, "cnn_steps": 2, "autoencoder_steps": 2,
                     "denoiser_steps": 2, "adversary": short},
        "evaluation": {"grids": {**TRAINING_GRIDS, **POOL_GRIDS}},
    })


#: what shrunk_paper changes: step counts, sample counts, and the grids of image counts and training steps
SHRUNK = {"steps", "batch_size", "l2_await", "l2_ramp", "fallback_activation_step", "n_samples", "samples",
          "train_per_class", "epochs", "attack_samples", "detect_test", "pgd_steps", "cnn_steps",
          "autoencoder_steps", "denoiser_steps", "finetune_steps", *TRAINING_GRIDS, *POOL_GRIDS}


def leaves(tree, path=()) -> dict[tuple, object]:
    """A config's plain form (``to_dict``) as {path: value}."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in leaves(sub, (*path, key)).items()}
    if isinstance(tree, list) and any(isinstance(v, (dict, list)) for v in tree):
        return {k: v for i, sub in enumerate(tree) for k, v in leaves(sub, (*path, i)).items()}
    return {path: tree}


def photo_folder(root: Path) -> Path:
    """128 px crops of the built-in photographs (each split's own photos), saved as PNG files."""
    root.mkdir()
    for split, n in FOLDER.items():
        for i, image in enumerate(crops(BuiltinData(split, n, RESOLUTION, seed=3))):
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / f"{split}-{i:03d}.png")
    return root


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("paper")
    preset = shrunk_paper()
    outcome = run(preset, tmp / "out", data_dir=photo_folder(tmp / "photos"), cache=ArtifactCache(tmp / "cache"),
                  progress=False)
    return preset, outcome


class TestPaperPath:
    def test_the_shrunk_preset_keeps_the_papers_settings(self):
        paper, preset = get_preset("paper"), shrunk_paper()
        before, after = leaves(to_dict(paper)), leaves(to_dict(preset))
        changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
        assert changed and {path[-1] for path in changed} <= SHRUNK, sorted(changed)
        assert (preset.resolution, preset.n_bits, preset.fingerprint.output) == (RESOLUTION, N_BITS, "sigmoid")
        assert preset.adaptive.adversary.output == "sigmoid" and preset.adaptive.adversary.n_bits == N_BITS
        assert {g.arch for g in preset.zoo.generators} == {"dcgan", "resnet"}
        assert [g.id for g in preset.zoo.generators] == [g.id for g in paper.zoo.generators]
        assert preset.attack_ids() == paper.attack_ids()
        assert preset.baselines.methods == paper.baselines.methods
        assert preset.baselines.attack_methods == paper.baselines.attack_methods and preset.baselines.immunised
        assert preset.methods == paper.methods
        assert data_problems(preset, FOLDER["train"], FOLDER["test"], FOLDER["holdout"], folder=True) == []

    def test_the_run_completes(self, paper_run):
        _, outcome = paper_run
        assert outcome.manifest["status"] == "complete"
        assert (outcome.out / "results.csv").is_file() and (outcome.out / "report.md").is_file()
        assert not (outcome.out / "partial").exists()

    def test_every_stage_ran(self, paper_run):
        preset, outcome = paper_run
        sections = {("generators", "evaluate_generators"): preset.zoo.generators,
                    ("image_attacks",): preset.image_attacks.attacks, ("model_attacks",): preset.model_attacks.attacks,
                    ("baselines",): preset.baselines.methods, ("adaptive",): preset.adaptive.attacks}
        assert all(sections.values()) and preset.methods == ("artificial_fingerprint",)
        expected = {"data", "fingerprint", "evaluate_data", "report", *(s for names in sections for s in names)}
        stages = json.loads((outcome.out / "manifest.json").read_text())["stage_seconds"]
        assert set(stages) == expected and all(seconds > 0 for seconds in stages.values()), stages

    def test_at_128_px_and_100_bits(self, paper_run):
        _, outcome = paper_run
        manifest = outcome.manifest
        assert manifest["config"]["data"]["resolution"] == RESOLUTION
        assert manifest["config"]["fingerprint"]["n_bits"] == N_BITS
        assert manifest["config"]["fingerprint"]["output"] == "sigmoid"
        assert manifest["data_source"].startswith("folder:")
        df = read_results(outcome.out / "results.csv")
        # a fingerprint decoded at 100 bits: bit accuracies are multiples of 1/100 per image
        data = df[(df["model"] == "data") & (df["attack"] == "none") & (df["metric"] == "bit_accuracy")]
        assert len(data) == 1 and data["n"].iloc[0] == FOLDER["test"]
        assert (data["value"] * N_BITS * FOLDER["test"]).round(6).mod(1).eq(0).all()
        # the fingerprint spectrum (fingerprinted minus clean) of the photos and the attacked generator: 128 x 128
        spectra = read_spectra(outcome.out / SPECTRA_FILE)
        assert {k: v.shape for k, v in spectra.items()} == {"data": (RESOLUTION, RESOLUTION),
                                                             "dcgan-s1": (RESOLUTION, RESOLUTION)}

    def test_rows_for_every_attack_and_both_architectures(self, paper_run):
        preset, outcome = paper_run
        df = read_results(outcome.out / "results.csv")
        assert validate(df) == []
        assert set(preset.attack_ids()) <= set(df["attack"]), set(preset.attack_ids()) - set(df["attack"])
        for kind, section in (("image", preset.image_attacks), ("model", preset.model_attacks),
                              ("adaptive", preset.adaptive)):
            measured = set(df.loc[df["attack_kind"] == kind, "attack"])
            assert set(section.attacks) <= measured, (kind, set(section.attacks) - measured)
        generators = {g.id: g.arch for g in preset.zoo.generators}
        for arch in ("dcgan", "resnet"):
            ids = {g for g, a in generators.items() if a == arch}
            rows = df[df["model"].isin(ids)]
            clean = rows[rows["attack"] == "none"]
            assert {"bit_accuracy", "fid"} <= set(clean["metric"]), arch
            image = set(rows.loc[rows["attack_kind"] == "image", "attack"])
            assert set(preset.image_attacks.attacks) <= image, (arch, set(preset.image_attacks.attacks) - image)
            baselines = rows[rows["method"].isin(preset.baselines.methods)]
            assert set(baselines["method"]) == set(preset.baselines.methods), arch
        targets = set(df.loc[df["attack_kind"] == "model", "model"])
        assert targets == set(preset.model_attacks.targets)
        assert set(df.loc[df["attack_kind"] == "adaptive", "model"]) == {"data", "dcgan-s1"}
