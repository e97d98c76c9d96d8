import pytest
import torch

from fpbench.generators import GENERATORS, sample, sample_latents


class TestSampling:
    @pytest.mark.parametrize("arch", ["dcgan", "resnet"])
    def test_deterministic_and_batch_independent(self, arch):
        G, _ = GENERATORS.get(arch)(16, 8, 4)
        a = sample(G, 10, seed=7, batch_size=3)
        b = sample(G, 10, seed=7, batch_size=10)
        c = sample(G, 10, seed=8, batch_size=10)
        assert a.shape == (10, 3, 16, 16) and a.dtype == torch.float32
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        assert not torch.allclose(a, c)
        assert float(a.min()) >= 0 and float(a.max()) <= 1

    def test_restores_mode_and_leaves_global_rng(self):
        G, _ = GENERATORS.get("dcgan")(16, 8, 4)
        G.train()
        state = torch.random.get_rng_state()
        sample(G, 4, seed=0)
        assert G.training
        assert torch.equal(state, torch.random.get_rng_state())

    def test_prefix_property(self):
        # the first k of n samples equal the k samples of the same seed: latents are pre-drawn
        G, _ = GENERATORS.get("dcgan")(16, 8, 4)
        torch.testing.assert_close(sample(G, 3, seed=1), sample(G, 6, seed=1)[:3], atol=1e-6, rtol=0)
        assert torch.equal(sample_latents(3, 8, 1), sample_latents(6, 8, 1)[:3])

    def test_zero_samples(self):
        G, _ = GENERATORS.get("dcgan")(16, 8, 4)
        assert sample(G, 0, seed=0).shape == (0, 3, 16, 16)

    def test_needs_latent_dim(self):
        net = torch.nn.Sequential(torch.nn.Linear(4, 3 * 16 * 16))
        with pytest.raises(ValueError, match="latent_dim"):
            sample(net, 2, seed=0)
