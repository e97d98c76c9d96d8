"""Immunising after the clean phase (fpbench.fingerprint.immunise): training with ``immunise_steps`` is the
paper's training followed by the immunising phase, so a run can continue from the paper's networks and get
bit for bit what training from scratch gives; the method refuses a start it cannot continue from."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from fpbench.fingerprint.perturb import KINDS
from fpbench.fingerprint.training import FingerprintTrainConfig, immunise_from, train_fingerprint
from fpbench.methods import MethodError, make_method
from fpbench.testing import make_images

pytestmark = pytest.mark.filterwarnings("ignore::fpbench.fingerprint.training.TrainingWarning")

CLEAN = FingerprintTrainConfig(n_bits=8, resolution=16, steps=6, batch_size=8, checkpoint_every=0,
                               fallback_activation_step=0, l2_await=0, l2_ramp=2)
IMMUNISED = dataclasses.replace(CLEAN, perturbations=KINDS, immunise_steps=4)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_continuing_from_the_clean_networks_equals_training_from_scratch():
    images = make_images(32, 16, seed=4)
    scratch = train_fingerprint(images, IMMUNISED, progress=False).models
    clean = train_fingerprint(images, CLEAN, progress=False).models
    before = {k: v.clone() for k, v in clean.decoder.state_dict().items()}
    warm = immunise_from(clean, images, IMMUNISED, progress=False)
    assert _same(warm.encoder, scratch.encoder) and _same(warm.decoder, scratch.decoder)
    assert not _same(warm.decoder, clean.decoder)  # the phase trained something ...
    assert all(torch.equal(v, before[k]) for k, v in clean.decoder.state_dict().items())  # ... on a copy


def test_immunise_steps_need_perturbations():
    with pytest.raises(ValueError, match="immunise_steps needs perturbations"):
        dataclasses.replace(CLEAN, immunise_steps=3)
    with pytest.raises(ValueError, match="immunise_steps must be an int >= 0"):
        dataclasses.replace(IMMUNISED, immunise_steps=-1)


def test_the_method_continues_only_from_the_paper_method_of_its_clean_config():
    images = make_images(32, 16, seed=4)
    options = {f.name: getattr(CLEAN, f.name) for f in dataclasses.fields(CLEAN)
               if f.name not in ("n_bits", "resolution")}
    immunised = make_method("artificial_fingerprint_immunised", n_bits=8, resolution=16, **options)
    assert immunised.train_config.immunise_steps == 4  # 3/4 of the steps by default
    assert immunised.clean_config == CLEAN
    paper = make_method("artificial_fingerprint", n_bits=8, resolution=16, **options).fit(images)
    immunised.fit(images, start=paper)
    assert not _same(immunised.models.decoder, paper.models.decoder)
    other = make_method("artificial_fingerprint", n_bits=8, resolution=16, **(options | {"lr": 3e-4})).fit(images)
    with pytest.raises(MethodError, match="can only continue from a fitted artificial_fingerprint"):
        immunised.fit(images, start=other)
    with pytest.raises(MethodError, match="can only continue"):
        immunised.fit(images, start=make_method("lsb", n_bits=8, resolution=16))
