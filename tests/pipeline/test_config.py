"""Run configs as files (issue 14): every preset round-trips through YAML to the same config hash,
`extends` changes only what a file names, and bad keys, values and grids are refused with exit 2."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from fpbench.cache import config_hash
from fpbench.pipeline.cli import main
from fpbench.pipeline.config import (
    ConfigError,
    FrozenMap,
    RunConfig,
    dump_yaml,
    from_dict,
    load_config,
    to_dict,
)
from fpbench.pipeline.presets import PRESETS

ALL = {name: PRESETS.get(name) for name in PRESETS}


@pytest.fixture
def ran(monkeypatch) -> list:
    """The run configs `fpbench run` hands to the runner (which is stubbed: nothing runs)."""
    import fpbench.pipeline.runner as runner

    configs = []

    def fake_run(preset, out, **kwargs):
        configs.append(preset)
        raise SystemExit(0)

    monkeypatch.setattr(runner, "run", fake_run)
    return configs


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_round_trips_to_the_same_hash(name, tmp_path, capsys):
    assert main(["config", "show", name]) == 0
    path = tmp_path / f"{name}.yaml"
    path.write_text(capsys.readouterr().out, encoding="utf-8")
    loaded = load_config(path, ALL)
    assert loaded == ALL[name]
    assert config_hash(loaded) == config_hash(ALL[name])
    assert dump_yaml(loaded) == path.read_text(encoding="utf-8")


def test_extends_changes_only_what_the_file_names(tmp_path):
    (tmp_path / "run.yaml").write_text(
        "extends: quick\nseeds: [0, 1, 2]\nbaselines:\n  epochs: 5\nevaluation:\n  alpha: 1e-4\n"
        "  grids:\n    jpeg: [90, 50]\n    finetuning: null\n", encoding="utf-8")
    got, quick = load_config(tmp_path / "run.yaml", ALL), ALL["quick"]
    assert got.seeds == (0, 1, 2) and got.baselines.epochs == 5 and got.alpha == 1e-4
    assert got.baselines == dataclasses.replace(quick.baselines, epochs=5)
    assert dict(got.grids) == {**{k: v for k, v in quick.grids.items() if k != "finetuning"}, "jpeg": (90.0, 50.0)}
    assert (got.fingerprint, got.zoo, got.image_attacks, got.adaptive) == (quick.fingerprint, quick.zoo,
                                                                          quick.image_attacks, quick.adaptive)


def test_a_file_can_extend_a_file(tmp_path):
    (tmp_path / "base.yaml").write_text("extends: smoke\nzoo:\n  n_samples: 32\n", encoding="utf-8")
    (tmp_path / "run.yaml").write_text("extends: base.yaml\nseeds: [3]\n", encoding="utf-8")
    got = load_config(tmp_path / "run.yaml", ALL)
    assert got.zoo.n_samples == 32 and got.seeds == (3,) and got.zoo.generators == ALL["smoke"].zoo.generators
    (tmp_path / "base.yaml").write_text("extends: run.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="loops"):
        load_config(tmp_path / "run.yaml", ALL)


@pytest.mark.parametrize("text, message", [
    ("extends: quick\nbaselnes: {epochs: 1}\n", "unknown key 'baselnes'. Did you mean 'baselines'"),
    ("extends: quick\nbaselines: {epocs: 1}\n", "unknown key 'baselines.epocs'. Did you mean 'epochs'"),
    ("extends: quick\nzoo:\n  generators:\n  - {id: g, arch: dcgan, seed: 1, stepz: 3}\n",
     "unknown key 'zoo.generators\\[0\\].stepz'"),
    ("extends: quick\nbaselines: {epochs: two}\n", "baselines.epochs must be an integer, got 'two'"),
    ("extends: quick\nimage_attacks: {attacks: jpeg}\n", "image_attacks.attacks must be a list"),
    ("extends: quick\nadaptive: {pgd_steps: 2.5}\n", "adaptive.pgd_steps must be an integer"),
    ("extends: quik\n", "unknown preset 'quik'. Did you mean 'quick'"),
    ("zoo: {n_samples: 3}\n", "needs name, fingerprint, data"),
    ("- a list\n", "must hold a mapping"),
])
def test_bad_files_are_refused_with_the_key(tmp_path, text, message):
    (tmp_path / "bad.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "bad.yaml", ALL)


def test_unknown_keys_list_the_valid_ones():
    with pytest.raises(ConfigError) as info:
        from_dict(RunConfig, {**to_dict(ALL["smoke"]), "sedes": [1]})
    assert "Did you mean 'seeds' or 'seed'" in str(info.value)
    assert "Valid keys: name, fingerprint, data, zoo, image_attacks" in str(info.value)


@pytest.mark.parametrize("args, message", [
    (["--config", "{bad}"], "unknown key 'baselines.epocs'"),
    (["--preset", "smoke", "--grid", "gaussian_blur=1,2"], "'gaussian_blur', which this run does not measure"),
    (["--preset", "smoke", "--grid", "jpge=50"], "unknown attack 'jpge'. Did you mean 'jpeg'"),
    (["--config", "{grid}"], "'gaussian_blur', which this run does not measure"),
    (["--preset", "smoke", "--config", "{bad}"], "not both"),
])
def test_the_cli_exits_2_naming_the_problem(tmp_path, capsys, args, message):
    (tmp_path / "bad.yaml").write_text("extends: smoke\nbaselines: {epocs: 3}\n", encoding="utf-8")
    (tmp_path / "grid.yaml").write_text("extends: smoke\nevaluation: {grids: {gaussian_blur: [1]}}\n",
                                        encoding="utf-8")
    args = [a.format(bad=tmp_path / "bad.yaml", grid=tmp_path / "grid.yaml") for a in args]
    assert main(["run", *args, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_values_are_typed_on_load(tmp_path):
    """YAML reads `1e-6` as a string and `30` as an int: the float fields get floats, the hash agrees."""
    data = to_dict(ALL["smoke"])
    data["evaluation"]["alpha"] = "1e-3"
    data["fingerprint"]["l2_weight"] = 30
    got = from_dict(RunConfig, yaml.safe_load(yaml.safe_dump(data)))
    assert got.alpha == 1e-3 and isinstance(got.fingerprint.l2_weight, float)
    assert config_hash(got) == config_hash(ALL["smoke"])


def test_configs_are_immutable():
    with pytest.raises(TypeError, match="read-only"):
        ALL["smoke"].evaluation.grids["jpeg"] = (5,)
    assert isinstance(ALL["smoke"].updated({"evaluation": {"grids": {"jpeg": [5]}}}).grids, FrozenMap)
    assert ALL["smoke"].grids["jpeg"] == (90.0, 50.0)


def test_run_config_from_show_is_the_presets(tmp_path, capsys, ran):
    """`fpbench config show quick > q.yaml && fpbench run --config q.yaml` runs quick itself (same hash)."""
    main(["config", "show", "quick"])
    (tmp_path / "q.yaml").write_text(capsys.readouterr().out, encoding="utf-8")
    for args in (["--config", str(tmp_path / "q.yaml")], ["--preset", "quick"]):
        with pytest.raises(SystemExit):
            main(["run", *args, "--out", str(tmp_path / "out")])
    assert len(ran) == 2 and config_hash(ran[0]) == config_hash(ran[1]) == config_hash(ALL["quick"])


def test_grids_of_attacks_taken_out_go_with_them(tmp_path):
    (tmp_path / "run.yaml").write_text("extends: smoke\nadaptive: {attacks: []}\nmodel_attacks: {attacks: [weight_noise]}\n",
                                       encoding="utf-8")
    got = load_config(tmp_path / "run.yaml", ALL)
    assert set(got.grids) == {"gaussian_noise", "jpeg", "weight_noise"}
    (tmp_path / "run.yaml").write_text("extends: smoke\nadaptive: {attacks: []}\n"
                                       "evaluation: {grids: {overwrite: [1.0]}}\n", encoding="utf-8")
    assert "overwrite" in load_config(tmp_path / "run.yaml", ALL).grids  # named by the file: validation refuses it


def test_allow_upscale_flag_reaches_the_data_config(tmp_path, ran):
    """The flag the small-image message names exists and sets data.allow_upscale."""
    with pytest.raises(SystemExit):
        main(["run", "--preset", "smoke", "--allow-upscale", "--out", str(tmp_path / "out")])
    assert ran[0].data.allow_upscale and not ALL["smoke"].data.allow_upscale


def test_method_flags_name_the_methods_after_the_papers(tmp_path, ran):
    with pytest.raises(SystemExit):
        main(["run", "--preset", "smoke", "--method", "lsb", "--method", "dct_qim", "--method", "lsb",
              "--out", str(tmp_path / "out")])
    assert ran[0].methods == ("artificial_fingerprint", "lsb", "dct_qim")
    with pytest.raises(SystemExit):  # they replace the preset's list: quick names all four built-ins
        main(["run", "--preset", "quick", "--method", "artificial_fingerprint", "--out", str(tmp_path / "out")])
    assert ALL["quick"].methods[1:] and ran[-1].methods == ("artificial_fingerprint",)
