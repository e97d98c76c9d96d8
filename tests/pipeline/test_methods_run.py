"""Several methods in one run (issue 15): each gets its stamped photos, its zoo (the per-method generators
plus the shared clean control), transfer rows, image and model attacks, under its own `method` name."""

from __future__ import annotations

import pytest

from fpbench.cache import ArtifactCache
from fpbench.pipeline.config import ConfigError
from fpbench.pipeline.runner import run
from fpbench.pipeline.validate import check_config, config_problems
from tests.stages.test_cache_keys import tiny_preset

METHODS = ["artificial_fingerprint", "lsb", "dct_qim"]


TARGET = 38.0  # dB: the run's fidelity target, which the tunable methods are matched to


def _preset():
    return tiny_preset().updated({"methods": METHODS, "fingerprint": {"target_psnr": TARGET}, "baselines": {"methods": []},
                                  "adaptive": {"attacks": ["overwrite", "surrogate_pgd", "averaging"],
                                               "per_method": ["overwrite", "surrogate_pgd"]},
                                  "model_attacks": {"attacks": ["weight_noise", "weight_averaging", "weight_rounding"],
                                                    "per_method": ["weight_noise", "weight_averaging"]},
                                  "evaluation": {"grids": {"overwrite": [1.0], "surrogate_pgd": [8], "averaging": [8],
                                                           "weight_averaging": [0.5]}}})


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("methods")
    outcome = run(_preset(), tmp / "out", cache=ArtifactCache(tmp / "cache"), progress=False)
    return tmp, outcome


@pytest.mark.filterwarnings("ignore")
def test_every_method_has_its_rows(ran):
    _, outcome = ran
    df = outcome.results
    assert set(df["method"]) == {*METHODS, "lsb@default", "dct_qim@default"}
    for method in METHODS:
        rows = df[df["method"] == method]
        clean = rows[(rows["attack"] == "none") & (rows["metric"] == "bit_accuracy")]
        assert {"data", "g-a"} <= set(clean["model"]), method  # stamped photos and transfer into a generator
        assert {"image", "model"} <= set(rows["attack_kind"]), method
    # weight averaging needs a second generator: the paper's full zoo has one, the other methods' do not
    averaged = df[df["attack"] == "weight_averaging"]
    assert set(averaged["method"]) == {"artificial_fingerprint"}
    # model_attacks.per_method: the other methods get only those
    assert set(df.loc[df["attack"] == "weight_rounding", "method"]) == {"artificial_fingerprint"}
    assert set(df.loc[df["attack"] == "weight_noise", "method"]) == set(METHODS)
    assert any("skipped model attack on g-a: weight_averaging" in w for w in outcome.manifest["warnings"])
    # the other methods get zoo.per_method's default (the first fingerprinted generator) and the clean control
    assert "g-b" not in set(df.loc[df["method"] == "lsb", "model"])
    assert "g-clean" in set(df.loc[df["method"] == "lsb", "model"])
    data = df[(df["attack"] == "none") & (df["metric"] == "bit_accuracy") & (df["model"] == "data")]
    assert data.set_index("method").loc[["lsb", "dct_qim"], "value"].min() >= 0.99  # classical codes read back


@pytest.mark.filterwarnings("ignore")
@pytest.mark.filterwarnings("ignore")
def test_tunable_methods_are_compared_at_the_target_psnr_and_at_their_default(ran):
    """lsb (~51 dB as classical LSB) and dct_qim (~40 dB at delta 16) are turned to the run's 38 dB on the
    stamped test photos; their own default is kept under ``<id>@default`` with data-level rows only."""
    _, outcome = ran
    df = outcome.results
    clean = df[(df["attack"] == "none") & (df["model"] == "data")].set_index(["method", "metric"])["value"]
    strengths = outcome.manifest["method_strength"]
    for method, default_low, default_high in (("lsb", 49, 53), ("dct_qim", 38.5, 42)):
        assert abs(clean[method, "psnr"] - TARGET) <= 0.1, method
        assert default_low < clean[f"{method}@default", "psnr"] < default_high, method
        assert clean[method, "bit_accuracy"] >= 0.99 and clean[f"{method}@default", "bit_accuracy"] >= 0.99
        record = strengths[method]["0"]
        assert record["psnr"] == pytest.approx(clean[method, "psnr"], abs=1e-6)
        assert record["strength"] > record["default_strength"] == 1.0
        default_rows = df[df["method"] == f"{method}@default"]
        assert set(default_rows["model"]) <= {"data", "real"} and set(default_rows["attack_kind"]) >= {"image"}


def test_a_rerun_hits_every_method_cache(ran):
    tmp, outcome = ran
    again = run(_preset(), tmp / "out2", cache=ArtifactCache(tmp / "cache"), progress=False)
    missed = [m for m in again.manifest["cache_misses"] if not m.startswith("data/")]
    assert missed == []
    assert {"method/" in h for h in again.manifest["cache_hits"]} == {True, False}


@pytest.mark.parametrize("methods, message", [
    (["lsb", "artificial_fingerprint"], "the first method must be artificial_fingerprint"),
    (["artificial_fingerprint", "lbs"], "unknown method 'lbs'. Did you mean 'lsb'"),
    (["artificial_fingerprint", "lsb", "lsb"], "each method once"),
])
def test_bad_method_lists_are_refused(methods, message):
    with pytest.raises(ConfigError, match=message):
        check_config(tiny_preset().updated({"methods": methods}))


@pytest.mark.filterwarnings("ignore")
def test_every_method_meets_the_adaptive_adversary_through_its_own_scheme(ran):
    """adaptive.per_method: the other methods get overwrite and surrogate PGD, not averaging. Overwriting
    with the adversary's own copy (its own key, at the victim's strength) runs for every method; surrogate
    PGD needs a decoder with a gradient, which a classical scheme's copy does not have: no rows for lsb or
    dct_qim, rows for the paper's method (the adversary's trained surrogate)."""
    _, outcome = ran
    df = outcome.results
    adaptive = df[df["attack_kind"] == "adaptive"]
    assert set(adaptive.loc[adaptive["attack"] == "overwrite", "method"]) == set(METHODS)
    assert set(adaptive.loc[adaptive["attack"] == "averaging", "method"]) == {"artificial_fingerprint"}
    assert set(adaptive.loc[adaptive["attack"] == "surrogate_pgd", "method"]) == {"artificial_fingerprint"}
    # a full-strength overwrite with its own key wipes out the victim's LSB stamp on the stamped photos
    lsb = adaptive[(adaptive["method"] == "lsb") & (adaptive["attack"] == "overwrite") & (adaptive["model"] == "data")]
    assert lsb.set_index("metric").loc["bit_accuracy", "value"] < 0.75


def test_per_method_model_attacks_must_be_among_the_attacks():
    preset = _preset().updated({"model_attacks": {"per_method": ["weight_noise", "weight_nosie", "pruning"]}})
    problems = "\n".join(config_problems(preset))
    assert "model_attacks.per_method: 'weight_nosie' is not one of model_attacks.attacks. Did you mean " \
           "'weight_noise'" in problems and "'pruning' is not one of model_attacks.attacks" in problems


def test_dct_qim_needs_a_resolution_multiple_of_8():
    preset = tiny_preset().updated({"methods": ["artificial_fingerprint", "dct_qim"], "data": {"resolution": 12},
                                    "fingerprint": {"resolution": 12}})
    with pytest.raises(ConfigError, match="dct_qim cannot run"):
        check_config(preset)
