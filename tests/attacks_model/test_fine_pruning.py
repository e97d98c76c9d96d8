"""fine_pruning: the least-active channels of the last hidden layer are cut (a ranking computed by hand on a
toy whose activations are known), and stay cut through fine-tuning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fpbench.attacks.model.fine_pruning import N_LATENTS, channel_activity, fine_pruning, least_active
from fpbench.generators import sample_latents

#: mean activations of the toy's hidden channels, by construction (post-ReLU, so negatives are 0)
ACTIVITY = (3.0, 1.0, 2.0, 0.5, -1.0, 4.0)


def known_activity_model(output: str) -> nn.Module:
    """z -> Linear (zero weight, bias = ACTIVITY) -> ReLU -> 1x1 map -> RGB layer: every latent gives hidden
    channel c the activation relu(ACTIVITY[c]), so the ranking is known without running anything."""
    c = len(ACTIVITY)
    linear = nn.Linear(4, c)
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(torch.tensor(ACTIVITY))
    rgb = nn.Conv2d(c, 3, 1) if output == "conv" else nn.ConvTranspose2d(c, 3, 2)
    return nn.Sequential(linear, nn.ReLU(), nn.Unflatten(1, (c, 1, 1)), rgb)


class TestRanking:
    @pytest.mark.parametrize("output", ["conv", "convtranspose"])
    def test_activity_is_the_known_mean_activation(self, output):
        model = known_activity_model(output)
        got = channel_activity(model, model[3], torch.randn(5, 4))
        assert torch.allclose(got, torch.tensor(ACTIVITY).clamp(min=0))

    # by hand: relu(ACTIVITY) = 3, 1, 2, 0.5, 0, 4 -> ascending: ch4 (0), ch3 (0.5), ch1 (1), ch2 (2), ch0, ch5;
    # round(0.25 * 6) = 2 -> {3, 4}; round(0.5 * 6) = 3 -> {1, 3, 4}; round(0.9 * 6) = 5 -> all but ch5
    @pytest.mark.parametrize(("amount", "cut"), [(0.0, []), (0.25, [3, 4]), (0.5, [1, 3, 4]),
                                                 (0.9, [0, 1, 2, 3, 4]), (1.0, [0, 1, 2, 3, 4, 5])])
    def test_least_active_by_hand(self, amount, cut):
        assert least_active(torch.tensor(ACTIVITY).clamp(min=0), amount).tolist() == cut

    def test_ties_broken_by_channel_index(self):
        assert least_active(torch.tensor([1.0, 0.0, 0.0, 0.0]), 0.5).tolist() == [1, 2]


class TestFinePruning:
    def _cut_by_hand(self, G, amount, seed):
        """The channels into the RGB layer with the lowest mean activation, from a forward pass through every
        layer but the last (no hooks): the ranking the attack must reproduce."""
        with torch.no_grad():
            hidden = G.eval().net[:-1](sample_latents(N_LATENTS, G.latent_dim, seed).view(N_LATENTS, -1, 1, 1))
        activity = hidden.mean(dim=(0, 2, 3))
        k = round(amount * len(activity))
        return sorted(torch.argsort(activity, stable=True)[:k].tolist())

    @pytest.mark.parametrize("amount", [0.25, 0.5, 0.75])
    def test_prunes_the_hand_ranked_channels_only(self, gan, toy, amount):
        G, D, data, config = gan
        cut = self._cut_by_hand(G, amount, seed=5)
        before = toy.state(G)
        out = fine_pruning(G, amount, seed=5, data=data, gan_config=config, finetune_steps=0)
        w, w0 = out.net[-1].weight.detach(), before["net.6.weight"]
        kept = [c for c in range(w.shape[0]) if c not in cut]
        assert cut and torch.all(w[cut] == 0) and torch.equal(w[kept], w0[kept])
        assert all(torch.equal(v, before[k]) for k, v in toy.state(out).items() if k != "net.6.weight")

    def test_cut_channels_stay_cut_through_finetuning(self, gan, toy):
        G, D, data, config = gan
        cut = self._cut_by_hand(G, 0.5, seed=1)
        before = toy.state(G)
        out = fine_pruning(G, 0.5, seed=1, data=data, gan_config=config, discriminator=D, finetune_steps=3)
        w = out.net[-1].weight.detach()
        kept = [c for c in range(w.shape[0]) if c not in cut]
        assert torch.all(w[cut] == 0) and not torch.equal(w[kept], before["net.6.weight"][kept])
        assert not torch.equal(out.net[3].weight, before["net.3.weight"])  # the whole generator fine-tunes
        assert toy.same(toy.state(G), before) and out.state_dict().keys() == before.keys()
        assert not any(m._forward_pre_hooks for m in out.modules()) and not out.training

    def test_bad_inputs_name_the_fix(self, gan):
        G, D, data, config = gan
        with pytest.raises(ValueError, match=r"amount must be a fraction in \[0, 1\]"):
            fine_pruning(G, 1.5, data=data, gan_config=config)
        with pytest.raises(ValueError, match="fine_pruning needs clean real images in context: data="):
            fine_pruning(G, 0.5, gan_config=config)
        with pytest.raises(ValueError, match="steps must be an integer"):
            fine_pruning(G, 0.5, data=data, gan_config=config, finetune_steps=-2)
