"""Throughput of every image attack at its strongest default value: 1000 RGB 32x32 images per call."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.registry import ATTACKS, AttackKind

IMAGE_IDS = sorted(i for i, s in ATTACKS.items() if s.kind is AttackKind.IMAGE)


@pytest.mark.perf
class TestImageAttackThroughput:
    @pytest.mark.parametrize("attack_id", IMAGE_IDS)
    def test_1000_images_32px(self, benchmark, attack_id):
        torch.set_num_threads(1)
        spec = ATTACKS.get(attack_id)
        images = torch.rand(1000, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        benchmark.group = "image attacks, 1000 x 3x32x32, 1 thread"
        benchmark.extra_info["images"] = len(images)
        out = benchmark.pedantic(spec, args=(images, spec.grid[-1]), rounds=3, iterations=1)
        assert out.shape == images.shape
