import pytest
import torch

from fpbench.generators import GENERATORS, build
from fpbench.registry import UnknownIdError


class TestArchitectures:
    def test_inventory(self):
        # an id disappearing or being renamed breaks user configs: change this list on purpose only
        assert sorted(GENERATORS.ids()) == ["dcgan", "resnet"]

    @pytest.mark.parametrize("arch", ["dcgan", "resnet"])
    @pytest.mark.parametrize("resolution", [16, 32, 64])
    def test_shapes_and_range(self, arch, resolution):
        G, D = GENERATORS.get(arch)(resolution, 16, 8)
        assert (G.resolution, G.latent_dim) == (resolution, 16)
        with torch.no_grad():
            x = G(torch.randn(3, 16) * 5)  # large latents push tanh to saturation
            logits = D(x)
        assert x.shape == (3, 3, resolution, resolution)
        assert float(x.min()) >= 0 and float(x.max()) <= 1
        assert logits.shape == (3,)
        assert torch.isfinite(logits).all()

    @pytest.mark.parametrize("resolution", [0, 8, 24, 48, 100])
    def test_rejects_bad_resolution(self, resolution):
        with pytest.raises(ValueError, match="power of two"):
            build("dcgan", resolution, 8, 4)

    def test_unknown_arch_suggests(self):
        with pytest.raises(UnknownIdError, match="did you mean 'dcgan'|Did you mean 'dcgan'"):
            build("dcgn", 32, 8, 4)

    @pytest.mark.parametrize("arch", ["dcgan", "resnet"])
    def test_width_scales_parameters(self, arch):
        small = sum(p.numel() for p in GENERATORS.get(arch)(32, 8, 4)[0].parameters())
        large = sum(p.numel() for p in GENERATORS.get(arch)(32, 8, 8)[0].parameters())
        assert large > 2 * small

    @pytest.mark.parametrize("arch,other", [("resnet", "dcgan"), ("dcgan", "resnet")])
    def test_discriminator_from_another_architecture(self, arch, other):
        G, D = build(arch, 32, 8, 4, discriminator=other)
        assert type(G) is type(GENERATORS.get(arch)(32, 8, 4)[0])
        assert type(D) is type(GENERATORS.get(other)(32, 8, 4)[1])
        with torch.no_grad():
            assert D(G(torch.randn(2, 8))).shape == (2,)

    def test_own_discriminator_by_default_and_by_name(self):
        for d in ("", "resnet"):
            assert type(build("resnet", 32, 8, 4, discriminator=d)[1]) is type(GENERATORS.get("resnet")(32, 8, 4)[1])

    def test_unknown_discriminator_suggests(self):
        with pytest.raises(UnknownIdError, match="Did you mean 'dcgan'"):
            build("resnet", 32, 8, 4, discriminator="dcgn")
