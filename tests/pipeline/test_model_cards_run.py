"""Model cards in a run and in ``fpbench evaluate`` (issue 16), in a toy world whose answers are known: the
card's images are stamped with classical LSB, which the run's own ``lsb`` decodes bit for bit, and the
own-decoder card is read by a decoder whose bits the test computes itself."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from fpbench.cache import ArtifactCache
from fpbench.data.builtin import BuiltinData, crops
from fpbench.fingerprint.embedding import decode
from fpbench.fingerprint.nets import FingerprintDecoder
from fpbench.methods import make_method
from fpbench.pipeline.cli import main
from fpbench.pipeline.config import ConfigError
from fpbench.pipeline.evaluate import evaluate
from fpbench.pipeline.runner import run
from fpbench.zoo import ModelCardError
from tests.stages.test_cache_keys import tiny_preset

FP = "0110100111010010"  # 16 bits, the tiny preset's length
N_IMAGES = 20


def _preset(cards):
    return tiny_preset().updated({"methods": ["artificial_fingerprint", "lsb"], "baselines": {"methods": []},
                                  "model_attacks": {"attacks": ["weight_noise"], "per_method": ["weight_noise"]},
                                  "models": [str(c) for c in cards]})


def _bits(text: str) -> torch.Tensor:
    return torch.tensor([int(c) for c in text], dtype=torch.float32)


def _save_folder(folder: Path, images: torch.Tensor) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(images):
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(folder / f"{i:03d}.png")
    return folder


def _card(path: Path, **fields) -> Path:
    fields = {"n_bits": 16, "resolution": 16, "fingerprint": FP} | fields
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items()))
    return path


def _lsb_images(n: int = N_IMAGES, fingerprint: str = FP) -> torch.Tensor:
    photos = crops(BuiltinData("holdout", n, 16, seed=5))
    return make_method("lsb", n_bits=16, resolution=16).embed(photos, _bits(fingerprint))


GENERATOR_MODULE = textwrap.dedent('''
    import torch
    from torch import nn

    class Stamped(nn.Module):
        """A "generator" whose every sample is one LSB-stamped photo: a Linear layer whose bias is the image
        (and whose tiny weights move no pixel by a level), so weight attacks have a layer to bite."""
        latent_dim = 4

        def __init__(self, image):
            super().__init__()
            self.fc = nn.Linear(4, image.numel())
            with torch.no_grad():
                self.fc.weight.normal_(0, 1e-6)
                self.fc.bias.copy_(image.flatten())
            self.shape = tuple(image.shape)

        def forward(self, z):
            return self.fc(z).view(len(z), *self.shape).clamp(0, 1)

    def make():
        torch.manual_seed(0)
        return Stamped(torch.load(__file__.replace(".py", ".pt")))
''')


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cards")
    _save_folder(tmp / "lsb-folder", _lsb_images())
    folder_card = _card(tmp / "folder.yaml", id="mine-lsb", folder="lsb-folder", method="lsb")
    # a callable card: an nn.Module generator, so model attacks reach it
    (tmp / "cardgen.py").write_text(GENERATOR_MODULE)
    torch.save(_lsb_images(1, "1" * 8 + "0" * 8)[0].float() / 255, tmp / "cardgen.pt")
    callable_card = _card(tmp / "callable.yaml", id="mine-gen", callable="cardgen:make", method="lsb",
                          fingerprint="1" * 8 + "0" * 8)
    # a card with its own decoder (a decoder-only state dict; the authors' .pth layout, which their code cannot
    # run below 32 px, is tested in tests/fingerprint/test_authors_checkpoint.py)
    torch.manual_seed(3)
    decoder = FingerprintDecoder(16, 16).eval()
    save_file({k: v.contiguous() for k, v in decoder.state_dict().items()}, str(tmp / "decoder.safetensors"))
    own_images = crops(BuiltinData("holdout", N_IMAGES, 16, seed=9))
    _save_folder(tmp / "own-folder", own_images)
    own_card = _card(tmp / "own.yaml", id="mine-own", folder="own-folder", decoder="decoder.safetensors")
    return tmp, folder_card, callable_card, own_card, decoder, own_images


@pytest.fixture(scope="module")
def ran(world, tmp_path_factory):
    tmp, folder_card, callable_card, own_card, *_ = world
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(tmp))
        outcome = run(_preset([folder_card, callable_card, own_card]), tmp / "out", cache=ArtifactCache(tmp / "cache"),
                      progress=False)
    return outcome


@pytest.mark.filterwarnings("ignore")
def test_a_folder_card_is_measured_under_every_image_attack_and_attributed_among_the_zoo(ran):
    df = ran.results
    mine = df[(df.model == "mine-lsb") & (df.method == "lsb")]
    assert set(tiny_preset().image_attacks.attacks) <= set(mine.attack)
    clean = mine[mine.attack == "none"].set_index("metric").value
    assert clean["bit_accuracy"] == 1.0  # LSB read back by the run's own lsb: exact
    assert clean["attribution_accuracy"] == 1.0 and clean["pass_rate"] == 1.0
    assert "fid" in clean.index
    # registered beside the lsb zoo's fingerprints: the zoo's own generator is still attributed to itself,
    # and the card's fingerprint is in the registry its rows were decided against
    assert {"data", "g-a"} <= set(df[df.method == "lsb"].model)


@pytest.mark.filterwarnings("ignore")
def test_a_callable_card_meets_the_model_attacks(ran):
    df = ran.results
    attacked = df[(df.model == "mine-gen") & (df.attack == "weight_noise") & (df.metric == "bit_accuracy")]
    assert len(attacked) == 1
    clean = df[(df.model == "mine-gen") & (df.attack == "none") & (df.metric == "bit_accuracy")].value
    assert float(clean.iloc[0]) == 1.0


@pytest.mark.filterwarnings("ignore")
def test_a_card_with_its_own_decoder_is_read_by_that_decoder(ran, world):
    *_, decoder, own_images = world
    df = ran.results
    rows = df[(df.model == "mine-own") & (df.attack == "none")].set_index("metric").value
    expected = (decode(decoder, own_images) == _bits(FP)).float().mean()  # the independent reference
    assert rows["bit_accuracy"] == pytest.approx(float(expected), abs=1e-6)
    assert "mine-own" not in set(df[df.method == "lsb"].model)


@pytest.mark.parametrize(("fields", "message"), [
    ({"resolution": 32}, "does not resize"),
    ({"id": "g-a"}, "already used"),
    ({"method": "dct_qim"}, "--method dct_qim"),
    ({"method": "lsbb"}, "lsb"),
])
def test_bad_cards_are_refused_before_any_stage(tmp_path, fields, message):
    _save_folder(tmp_path / "imgs", _lsb_images(2) if fields.get("resolution") != 32
                 else crops(BuiltinData("holdout", 2, 32, seed=5)))
    card = _card(tmp_path / "bad.yaml", **({"id": "x", "folder": "imgs", "method": "lsb"} | fields))
    cache = ArtifactCache(tmp_path / "cache")
    with pytest.raises(ModelCardError, match=message):
        run(_preset([card]), tmp_path / "out", cache=cache, progress=False)
    assert not cache.misses and not (tmp_path / "out").exists()


@pytest.mark.filterwarnings("ignore")
def test_evaluate_trains_nothing_and_writes_the_report(world, tmp_path):
    _, folder_card, _, own_card, *_ = world
    code = main(["evaluate", "--card", str(folder_card), "--card", str(own_card), "--attacks", "jpeg,gaussian_blur",
                 "--samples", "20", "--attack-samples", "10", "--alpha", "1e-3", "--out", str(tmp_path / "eval"),
                 "--cache-dir", str(tmp_path / "cache"), "--quiet"])
    assert code == 0
    out = tmp_path / "eval"
    assert (out / "report.html").is_file() and (out / "results.csv").is_file()
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name in ("fingerprint", "generator", "method")]
    import pandas as pd

    df = pd.read_csv(out / "results.csv")
    assert {"mine-lsb", "mine-own"} <= set(df.model)
    assert {"none", "jpeg", "gaussian_blur"} <= set(df[df.model == "mine-lsb"].attack)
    clean = df[(df.model == "mine-lsb") & (df.attack == "none")].set_index("metric").value
    assert clean["bit_accuracy"] == 1.0 and clean["detection_accuracy"] > 0.9


def test_evaluate_refuses_an_alpha_no_fingerprint_of_the_cards_can_reach(world, tmp_path):
    with pytest.raises(ConfigError, match="smallest p-value is 1.53e-05"):
        evaluate([world[1]], tmp_path / "out", alpha=1e-6, cache=ArtifactCache(tmp_path / "cache"), progress=False)


def test_evaluate_needs_a_decoder_for_a_learned_method(world, tmp_path):
    _save_folder(tmp_path / "imgs", _lsb_images(2))
    card = _card(tmp_path / "learned.yaml", id="x", folder="imgs")
    with pytest.raises(ModelCardError, match="decoder: PATH"):
        evaluate([card], tmp_path / "out", cache=ArtifactCache(tmp_path / "cache"), progress=False)
