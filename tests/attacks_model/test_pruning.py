"""pruning (global unstructured L1) and channel_pruning (per-layer L2 output channels)."""

from __future__ import annotations

import pytest
import torch

from fpbench.attacks.model.pruning import channel_pruning, pruning

SPARSITIES = [0.1, 0.3, 0.5, 0.7, 0.9]
WEIGHTS = ("0.weight", "3.weight", "6.weight")


class TestPruning:
    @pytest.mark.parametrize("sparsity", SPARSITIES)
    def test_global_sparsity_is_reached(self, toy, generator, sparsity):
        after = toy.state(pruning(generator, sparsity))
        total = sum(after[k].numel() for k in WEIGHTS)
        zeros = sum(int((after[k] == 0).sum()) for k in WEIGHTS)
        assert zeros == round(sparsity * total)

    def test_smallest_magnitudes_go_first_across_layers(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(pruning(generator, 0.5))
        all_w = torch.cat([before[k].abs().flatten() for k in WEIGHTS])
        threshold = all_w.kthvalue(round(0.5 * all_w.numel())).values
        for k in WEIGHTS:
            kept = after[k] != 0
            assert (before[k].abs()[kept] >= threshold).all(), k
            assert torch.equal(after[k][kept], before[k][kept]), k

    def test_global_not_per_layer(self, toy, generator):
        with torch.no_grad():
            generator[0].weight.mul_(1e-3)  # the tiny layer should take almost all of the pruning
        after = toy.state(pruning(generator, 0.3))
        assert (after["0.weight"] == 0).float().mean() > 0.6
        assert (after["6.weight"] == 0).float().mean() < 0.05

    def test_biases_and_norm_layers_kept(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(pruning(generator, 0.9))
        for k in ("0.bias", "3.bias", "6.bias", *toy.norm_keys):
            assert torch.equal(after[k], before[k]), k

    def test_result_is_plain_and_trainable(self, generator):
        out = pruning(generator, 0.5)
        names = [n for n, _ in out.named_parameters()]
        assert not any(n.endswith("_orig") for n in names)
        assert not any(n.endswith("_mask") for n, _ in out.named_buffers())
        assert all(p.requires_grad for p in out.parameters())

    @pytest.mark.parametrize("bad", [-0.1, 1.5])
    def test_bad_sparsity_rejected(self, generator, bad):
        with pytest.raises(ValueError, match="sparsity must be a fraction"):
            pruning(generator, bad)


class TestChannelPruning:
    @pytest.mark.parametrize("amount", SPARSITIES)
    def test_channel_fraction_reached_per_layer(self, generator, amount):
        out = channel_pruning(generator, amount)
        lin, convt = out[0], out[3]
        lin_zero = (lin.weight.detach().abs().sum(dim=1) == 0) & (lin.bias.detach() == 0)
        convt_zero = (convt.weight.detach().abs().sum(dim=(0, 2, 3)) == 0) & (convt.bias.detach() == 0)
        assert int(lin_zero.sum()) == round(amount * lin.out_features)
        assert int(convt_zero.sum()) == round(amount * convt.out_channels)

    def test_lowest_l2_channels_are_pruned(self, generator):
        w = generator[3].weight.detach().clone()
        norms = w.pow(2).sum(dim=(0, 2, 3)).sqrt()
        out = channel_pruning(generator, 0.5)[3].weight.detach()
        pruned = out.abs().sum(dim=(0, 2, 3)) == 0
        assert set(pruned.nonzero().flatten().tolist()) == set(norms.argsort()[:8].tolist())
        assert torch.equal(out[:, ~pruned], w[:, ~pruned])

    def test_rgb_output_layer_and_norm_layers_untouched(self, toy, generator):
        before = toy.state(generator)
        after = toy.state(channel_pruning(generator, 0.9))
        for k in ("6.weight", "6.bias", *toy.norm_keys):
            assert torch.equal(after[k], before[k]), k

    def test_grouped_transposed_conv_prunes_bias_of_each_group(self):
        g = torch.nn.Sequential(torch.nn.ConvTranspose2d(4, 6, 3, groups=2), torch.nn.Conv2d(6, 3, 1))
        out = channel_pruning(g, 0.34)[0]  # 3 channels per group, one pruned in each group
        zero_w = out.weight.detach().abs().sum(dim=(0, 2, 3)) == 0
        assert int(zero_w.sum()) == 1
        j = int(zero_w.nonzero())
        assert out.bias[j] == 0 and out.bias[3 + j] == 0
        assert int((out.bias == 0).sum()) == 2

    def test_single_layer_model_is_unchanged(self, toy):
        g = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3))
        assert toy.same(toy.state(channel_pruning(g, 0.9)), toy.state(g))

    @pytest.mark.parametrize("bad", [-0.1, 2.0])
    def test_bad_amount_rejected(self, generator, bad):
        with pytest.raises(ValueError, match="amount must be a fraction"):
            channel_pruning(generator, bad)
