import dataclasses

import pytest
import torch
from safetensors.torch import load_file

from fpbench.generators import LOSSES, GanConfig, build, train_gan
from fpbench.registry import UnknownIdError


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def _assert_same_modules(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], atol=0, rtol=0, msg=k)


class TestGanConfig:
    def test_defaults_are_valid_and_versioned(self):
        cfg = GanConfig()
        assert cfg.version >= 1 and cfg.loss in LOSSES and cfg.arch == "dcgan"

    @pytest.mark.parametrize("field,value", [("arch", "dcgen"), ("loss", "hinj"), ("discriminator", "resnt")])
    def test_ids_checked_at_the_door(self, field, value):
        with pytest.raises(UnknownIdError, match="Did you mean"):
            GanConfig(**{field: value})

    @pytest.mark.parametrize("field,value", [("resolution", 48), ("steps", -1), ("batch_size", 0),
                                             ("ema_decay", 1.0), ("betas", (0.5,)), ("lr_g", 0.0)])
    def test_rejects_bad_values(self, field, value):
        with pytest.raises(ValueError):
            GanConfig(**{field: value})

    def test_round_trip(self):
        cfg = GanConfig(betas=[0.0, 0.9])
        assert cfg.betas == (0.0, 0.9)
        assert GanConfig.from_dict(cfg.to_dict()) == cfg


class TestTrainGan:
    @pytest.mark.parametrize("arch,loss", [("dcgan", "hinge"), ("resnet", "nonsat")])
    def test_changes_weights_and_is_reproducible(self, tiny_images, tiny_config, arch, loss):
        cfg = dataclasses.replace(tiny_config, arch=arch, loss=loss, steps=3)
        a = train_gan(tiny_images, cfg, progress=False)
        b = train_gan(tiny_images, cfg, progress=False)
        # the seeded initial G differs from the trained one
        fresh = train_gan(tiny_images, dataclasses.replace(cfg, steps=0), progress=False)
        assert any(not torch.equal(p, q) for p, q in zip(fresh.online_generator.parameters(),
                                                         a.online_generator.parameters(), strict=True))
        _assert_same_modules(a.generator, b.generator)
        _assert_same_modules(a.discriminator, b.discriminator)
        assert torch.equal(a.history, b.history)
        assert a.history.shape == (3, 2) and torch.isfinite(a.history).all()
        assert not a.generator.training
        # trained in channels_last for speed, released in the standard layout (safetensors needs it)
        for net in (a.generator, a.online_generator, a.discriminator):
            assert all(t.is_contiguous() for t in net.state_dict().values())

    def test_seed_matters(self, tiny_images, tiny_config):
        a = train_gan(tiny_images, tiny_config, progress=False)
        b = train_gan(tiny_images, dataclasses.replace(tiny_config, seed=4), progress=False)
        assert not torch.equal(a.history, b.history)

    @pytest.mark.parametrize("arch", ["dcgan", "resnet"])
    def test_resume_equals_uninterrupted(self, tiny_images, tiny_config, tmp_path, arch):
        cfg = dataclasses.replace(tiny_config, arch=arch)
        full = train_gan(tiny_images, cfg, progress=False)
        ckpt = tmp_path / "gan.safetensors"
        half = train_gan(tiny_images, dataclasses.replace(cfg, steps=2), checkpoint_path=ckpt, progress=False)
        assert half.history.shape == (2, 2) and ckpt.exists()
        resumed = train_gan(tiny_images, cfg, checkpoint_path=ckpt, progress=False)
        assert resumed.start_step == 2
        torch.testing.assert_close(resumed.history, full.history, atol=0, rtol=0)
        for a, b in [(resumed.generator, full.generator), (resumed.online_generator, full.online_generator),
                     (resumed.discriminator, full.discriminator)]:
            _assert_same_modules(a, b)
        assert int(load_file(str(ckpt))["step"][0]) == 4

    def test_checkpoint_written_periodically(self, tiny_images, tiny_config, tmp_path):
        ckpt = tmp_path / "sub" / "gan.safetensors"
        train_gan(tiny_images, dataclasses.replace(tiny_config, steps=3), checkpoint_path=ckpt, progress=False)
        tensors = load_file(str(ckpt))
        assert int(tensors["step"][0]) == 3
        assert any(k.startswith("opt_g.") for k in tensors) and any(k.startswith("G_ema.") for k in tensors)
        assert not list(ckpt.parent.glob("*.tmp"))

    def test_resume_rejects_other_config(self, tiny_images, tiny_config, tmp_path):
        ckpt = tmp_path / "gan.safetensors"
        train_gan(tiny_images, dataclasses.replace(tiny_config, steps=2), checkpoint_path=ckpt, progress=False)
        with pytest.raises(ValueError, match="lr_g"):
            train_gan(tiny_images, dataclasses.replace(tiny_config, lr_g=1e-3), checkpoint_path=ckpt,
                      progress=False)

    def test_trains_with_the_configured_discriminator(self, tiny_images, tiny_config, tmp_path):
        cfg = dataclasses.replace(tiny_config, arch="resnet", discriminator="dcgan", steps=2)
        res = train_gan(tiny_images, cfg, progress=False)
        assert type(res.discriminator) is type(build("dcgan", 16, 8, 4)[1])
        assert type(res.online_generator) is type(build("resnet", 16, 8, 4)[0])
        ckpt = tmp_path / "gan.safetensors"
        train_gan(tiny_images, cfg, checkpoint_path=ckpt, progress=False)
        with pytest.raises(ValueError, match="discriminator"):  # a checkpoint of the other pairing
            train_gan(tiny_images, dataclasses.replace(cfg, discriminator="", steps=3), checkpoint_path=ckpt,
                      progress=False)

    def test_continue_from_given_networks(self, tiny_images, tiny_config):
        first = train_gan(tiny_images, tiny_config, progress=False)
        before = _state(first.generator)
        other = torch.flip(tiny_images, dims=[3])
        tuned = train_gan(other, dataclasses.replace(tiny_config, seed=9), generator=first.generator,
                          progress=False)
        # the passed generator is copied, never modified; the fine-tuned one moved away from it
        for k, v in first.generator.state_dict().items():
            assert torch.equal(v, before[k])
        changed = [k for k, v in tuned.online_generator.state_dict().items()
                   if v.is_floating_point() and not torch.equal(v, before[k])]
        assert changed
        # with D given, its weights are the starting point
        again = train_gan(other, dataclasses.replace(tiny_config, steps=0), generator=first.generator,
                          discriminator=first.discriminator, progress=False)
        _assert_same_modules(again.discriminator, first.discriminator)

    def test_rejects_mismatched_generator(self, tiny_images, tiny_config):
        G, _ = build("dcgan", 32, 8, 4)
        with pytest.raises(ValueError, match="resolution"):
            train_gan(tiny_images, tiny_config, generator=G, progress=False)

    @pytest.mark.parametrize("images,match", [
        (torch.zeros(4, 3, 16, 16), "uint8"),
        (torch.zeros(4, 1, 16, 16, dtype=torch.uint8), "N x 3"),
        (torch.zeros(4, 3, 32, 32, dtype=torch.uint8), "resolution"),
    ])
    def test_rejects_bad_images(self, tiny_config, images, match):
        with pytest.raises((TypeError, ValueError), match=match):
            train_gan(images, tiny_config, progress=False)

    def test_fewer_images_than_batch(self, tiny_config):
        imgs = torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8)
        res = train_gan(imgs, dataclasses.replace(tiny_config, steps=2), progress=False)
        assert res.history.shape == (2, 2)
