"""The typed attack context (issue 14): an attack takes exactly the context fields it declared, and a
misspelled keyword is a TypeError instead of being dropped."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

from fpbench.attacks.context import CONTEXT_FIELDS, FIELD_HELP, AttackContext
from fpbench.attacks.registry import AttackKind, AttackSpec, _check_signature, get_attack, load_all

ALL = sorted(load_all().items())


@pytest.mark.parametrize("attack_id, spec", ALL, ids=[a for a, _ in ALL])
def test_every_attack_declares_its_context_and_swallows_nothing(attack_id, spec):
    params = inspect.signature(spec.fn).parameters
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    assert set(spec.needs) | set(spec.optional) <= CONTEXT_FIELDS
    for name in (*spec.needs, *spec.optional):
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY, f"{attack_id}: {name} must be keyword-only"
    if spec.kind is AttackKind.IMAGE:
        assert spec.needs == spec.optional == ()


@pytest.mark.parametrize("attack_id, call", [
    ("surrogate_pgd", lambda spec: spec(torch.rand(2, 3, 16, 16), 4, seed=0, surrogate_decoder=nn.Identity(), step=1)),
    ("whitebox_pgd", lambda spec: spec(torch.rand(2, 3, 16, 16), 4, seed=0, decoder=nn.Identity())),
    ("weight_noise", lambda spec: spec(nn.Linear(2, 2), 0.1, seed=0, discrimnator=nn.Identity())),
    ("weight_averaging", lambda spec: spec(nn.Linear(2, 2), 0.5, seed=0, other=nn.Linear(2, 2))),
    ("jpeg", lambda spec: spec(torch.rand(2, 3, 16, 16), 50, seed=0, qualty=3)),
])
def test_a_misspelled_keyword_is_a_type_error(attack_id, call):
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        call(get_attack(attack_id))


def _recording_spec(needs=(), optional=()) -> tuple[AttackSpec, list]:
    seen = []

    def fn(x, value, *, seed=0, pool=None, surrogate_decoder=None, pgd_steps=40):
        seen.append({"pool": pool, "surrogate_decoder": surrogate_decoder, "pgd_steps": pgd_steps})
        return x

    _check_signature("recording", fn, "value", (*needs, *optional))
    spec = AttackSpec(id="recording", kind=AttackKind.ADAPTIVE, fn=fn, param="value", unit="", grid=(1.0,),
                      neutral=None, domain=(0.0, 10.0), category="removal", version=1, differentiable=False,
                      integer=False, description="", needs=tuple(needs), optional=tuple(optional))
    return spec, seen


def test_an_attack_gets_exactly_the_fields_it_declared():
    spec, seen = _recording_spec(needs=("pool",), optional=("pgd_steps",))
    pool, decoder = torch.zeros(3), nn.Identity()
    spec(torch.zeros(1), 1.0, context=AttackContext(pool=pool, surrogate_decoder=decoder, pgd_steps=7))
    assert seen[-1]["pool"] is pool and seen[-1]["pgd_steps"] == 7
    assert seen[-1]["surrogate_decoder"] is None  # offered by the context, not declared: not handed over
    spec(torch.zeros(1), 1.0, context=AttackContext(pool=pool))
    assert seen[-1]["pgd_steps"] == 40  # an optional field the context lacks: the function's default


def test_a_missing_need_names_the_field_and_what_it_holds():
    spec, seen = _recording_spec(needs=("pool", "surrogate_decoder"))
    with pytest.raises(ValueError, match=r"recording needs `pool` \(other images .*`surrogate_decoder`"):
        spec(torch.zeros(1), 1.0, context=AttackContext())
    assert not seen


@pytest.mark.parametrize("fn, context, message", [
    (lambda x, value, *, seed=0, **kwargs: x, (), r"no \*\*kwargs"),
    (lambda x, value, *, seed=0: x, ("pool",), "no parameter 'pool'"),
    (lambda x, value, *, seed=0, poool=None: x, ("poool",), "not AttackContext fields"),
])
def test_registration_refuses_undeclared_or_swallowed_context(fn, context, message):
    with pytest.raises(TypeError, match=message):
        _check_signature("bad", fn, "value", context)


def test_every_context_field_is_explained():
    assert set(FIELD_HELP) == CONTEXT_FIELDS
