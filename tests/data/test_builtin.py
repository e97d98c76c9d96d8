"""fpbench.data.builtin: deterministic crops, splits disjoint by source photograph."""

from __future__ import annotations

import hashlib
import itertools

import pytest
import torch

import fpbench.data.builtin as builtin
from fpbench.data.builtin import SPLITS, BuiltinData, crops


def fake_photo(name: str) -> torch.Tensor:
    """A flat photo whose colour identifies its name (so every crop names its source)."""
    i = sorted(builtin.LOADERS).index(name)
    colour = torch.tensor([10 + 20 * i, 200 - 10 * i, 7 * i], dtype=torch.uint8).view(3, 1, 1)
    return colour.expand(3, 90 + 10 * i, 120).contiguous()


class TestSplits:
    def test_split_lists_are_disjoint(self):
        for a, b in itertools.combinations(SPLITS, 2):
            assert not set(SPLITS[a]) & set(SPLITS[b]), (a, b)
        assert set(builtin.LOADERS) == set(itertools.chain(*SPLITS.values()))

    def test_no_photo_appears_under_two_names(self):
        """Distinct names must be distinct photos (skimage's cat is chelsea, so it is left out)."""
        digests = {}
        for name in builtin.LOADERS:
            p = builtin.photo(name)
            assert p.dtype == torch.uint8 and p.ndim == 3 and p.shape[0] == 3
            digests[name] = hashlib.sha256(p.numpy().tobytes()).hexdigest()
        assert len(set(digests.values())) == len(digests)

    @pytest.mark.parametrize("split", list(SPLITS))
    def test_crops_come_only_from_their_split(self, split, monkeypatch):
        requested = []

        def recording(name):
            requested.append(name)
            return fake_photo(name)

        monkeypatch.setattr(builtin, "photo", recording)
        out = crops(BuiltinData(split, 40, 16, seed=3))
        assert set(requested) == set(SPLITS[split])
        colours = {tuple(fake_photo(n)[:, 0, 0].tolist()): n for n in builtin.LOADERS}
        sources = {colours[tuple(img[:, 0, 0].tolist())] for img in out}
        assert sources <= set(SPLITS[split]) and len(sources) > 1


class TestCrops:
    @pytest.mark.parametrize(("n", "resolution"), [(1, 16), (6, 32), (3, 64)])
    def test_shape_and_dtype(self, n, resolution):
        out = crops(BuiltinData("test", n, resolution))
        assert out.shape == (n, 3, resolution, resolution) and out.dtype == torch.uint8

    def test_deterministic(self):
        cfg = BuiltinData("train", 8, 32, seed=5)
        assert torch.equal(crops(cfg), crops(BuiltinData("train", 8, 32, seed=5)))

    @pytest.mark.parametrize("change", [{"seed": 6}, {"split": "holdout"}, {"min_scale": 0.5}])
    def test_config_changes_the_crops(self, change):
        base = dict(split="train", n=8, resolution=32, seed=5)
        assert not torch.equal(crops(BuiltinData(**base)), crops(BuiltinData(**(base | change))))

    def test_crops_are_not_all_alike(self):
        out = crops(BuiltinData("train", 16, 32)).float()
        assert out.flatten(1).std(0).mean() > 10  # varied content, not one repeated patch

    @pytest.mark.parametrize(("kwargs", "match"), [({"split": "val"}, "unknown split 'val'"),
                                                   ({"n": 0}, "n must be >= 1")])
    def test_errors(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            crops(BuiltinData(**({"split": "train", "n": 2, "resolution": 16} | kwargs)))
