"""Tiny model cards, image folders and generator modules made in tmp_path."""

import json
import textwrap

import numpy as np
import pytest
import yaml
from PIL import Image

FINGERPRINT = "0110100111"


@pytest.fixture
def write_card(tmp_path):
    """``write_card(fields, name="card.yaml")`` -> path; JSON when the name ends in .json."""

    def write(fields: dict, name: str = "card.yaml"):
        path = tmp_path / name
        text = json.dumps(fields) if name.endswith(".json") else yaml.safe_dump(fields)
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def image_folder(tmp_path):
    """Six 16x16 images: RGB PNGs, a grayscale JPEG, an RGBA WebP."""
    folder = tmp_path / "samples"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for i in range(4):
        Image.fromarray(rng.randint(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"img{i}.png")
    Image.fromarray(rng.randint(0, 256, (16, 16), dtype=np.uint8)).save(folder / "gray.JPG")
    Image.fromarray(rng.randint(0, 256, (16, 16, 4), dtype=np.uint8), "RGBA").save(folder / "alpha.webp")
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture
def generator_module(tmp_path, monkeypatch):
    """A module ``fp_test_models`` on sys.path with a generator factory, a sampler factory and a dud."""
    code = textwrap.dedent("""
        import torch
        from fpbench.generators import GENERATORS

        def dcgan():
            torch.manual_seed(0)
            G, _ = GENERATORS.get("dcgan")(16, 8, 4)
            return G

        def sampler():
            def draw(n, seed):
                return torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
            return draw

        def wrong_range():
            return lambda n, seed: torch.rand(n, 3, 16, 16) * 2 - 1

        def not_a_model():
            return 42

        NOT_CALLABLE = 3
    """)
    (tmp_path / "fp_test_models.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "fp_test_models"
