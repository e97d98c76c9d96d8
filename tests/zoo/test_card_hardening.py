"""Model cards that cannot hurt: size and alias limits, parser failures, card code that raises or exits,
non-finite samples, 16-bit and oversized images, and generated cards (hypothesis)."""

from __future__ import annotations

import json
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from fpbench.zoo import MAX_CARD_BYTES, ModelCard, ModelCardError, load_card, load_model, parse_card

FINGERPRINT = "0110100111"
VALID = f'id: m1\nfingerprint: "{FINGERPRINT}"\nn_bits: 10\nresolution: 16\n'


def _fields(**overrides):
    base = {"id": "m1", "fingerprint": FINGERPRINT, "n_bits": 10, "resolution": 16}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def billion_laughs(levels: int = 9) -> str:
    """The classic: nine levels of nine aliases each, 10**9 strings from about 1 KB of text."""
    lines = ['lol0: &l0 "lol"']
    for i in range(1, levels + 1):
        lines.append(f"lol{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n" + VALID + f"callable: m:f\ndescription: *l{levels}\n"


class TestCardFile:
    def test_oversized_card_refused_before_parsing(self, tmp_path):
        path = tmp_path / "big.yaml"
        path.write_text(VALID + "callable: m:f\ndescription: " + "x" * MAX_CARD_BYTES + "\n: [unclosed\n")
        with pytest.raises(ModelCardError, match=r"big\.yaml is larger than 64 KiB"):
            load_card(path)

    def test_card_just_under_the_limit_loads(self, tmp_path):
        head = VALID + "callable: m:f\ndescription: "
        path = tmp_path / "card.yaml"
        path.write_text(head + "x" * (MAX_CARD_BYTES - len(head) - 1) + "\n")
        assert path.stat().st_size == MAX_CARD_BYTES
        assert len(load_card(path).description) == MAX_CARD_BYTES - len(head) - 1

    def test_billion_laughs_refused_quickly(self, tmp_path):
        path = tmp_path / "laughs.yaml"
        path.write_text(billion_laughs())
        assert path.stat().st_size < 1500
        start = time.perf_counter()
        with pytest.raises(ModelCardError, match=r"laughs\.yaml uses a YAML anchor or alias .* line 1"):
            load_card(path)
        assert time.perf_counter() - start < 1.0

    @pytest.mark.parametrize("text", [
        VALID + "callable: &c m:f\n",  # an anchor alone
        "id: &i m1\n" + VALID.split("\n", 1)[1] + "callable: m:f\ndescription: *i\n",  # anchor and alias
    ])
    def test_any_anchor_or_alias_refused(self, tmp_path, text):
        path = tmp_path / "card.yaml"
        path.write_text(text)
        with pytest.raises(ModelCardError, match=r"card\.yaml uses a YAML anchor or alias.*write each value"):
            load_card(path)

    @pytest.mark.parametrize(("name", "text", "match"), [
        ("card.yaml", VALID + "callable: m:f\ndescription: 2001-13-45\n", r"not valid YAML: ValueError"),
        ("card.yaml", VALID + "callable: m:f\ndescription: !!timestamp x\n", r"not valid YAML"),
        ("card.yaml", "[" * 5000, "nests too deeply"),
        ("card.json", "[" * 60000, "nests too deeply"),
        ("card.json", '{"id": 1' + "0" * 5000 + "}", r"not valid JSON: ValueError"),
    ])
    def test_parser_failures_are_card_errors(self, tmp_path, name, text, match):
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(ModelCardError, match=match):
            load_card(path)

    def test_not_utf8(self, tmp_path):
        path = tmp_path / "card.yaml"
        path.write_bytes(VALID.encode() + b"description: caf\xe9\n")
        with pytest.raises(ModelCardError, match=r"card\.yaml is not UTF-8 text.*save it as UTF-8"):
            load_card(path)

    def test_folder_instead_of_card(self, tmp_path):
        with pytest.raises(ModelCardError, match="is not a regular file"):
            load_card(tmp_path)


class TestCardFields:
    @pytest.mark.parametrize("folder", [12, ["a", "b"], "", "bad\0name"])
    def test_folder_must_be_a_path_string(self, write_card, folder):
        with pytest.raises(ModelCardError, match="folder must be a path to a folder of images"):
            load_card(write_card(_fields(folder=folder), "card.json"))

    @pytest.mark.parametrize("spec", ["..:f", ".m:f", "m.:f", "m:f-g", "my module:f", "m:f:g", "m:1f"])
    def test_callable_must_name_python_objects(self, write_card, spec):
        with pytest.raises(ModelCardError, match="callable must look like 'package.module:function'"):
            load_card(write_card(_fields(callable=spec)))

    @pytest.mark.parametrize("data", [[1, 2], "id: m1", None])
    def test_parse_card_needs_a_mapping(self, tmp_path, data):
        with pytest.raises(ModelCardError, match="must hold a mapping of fields"):
            parse_card(data, base_dir=tmp_path)


@pytest.fixture
def card_code(tmp_path, monkeypatch):
    """Modules with misbehaving card code on sys.path, imported afresh in every test."""
    modules = {
        "fp_hard_models": """
            import sys
            import torch

            def boom():
                raise RuntimeError("boom in factory")

            def exits():
                sys.exit(3)

            def interrupts():
                raise KeyboardInterrupt

            def _const(value):
                return lambda: lambda n, seed: torch.full((n, 3, 16, 16), value)

            nan_sampler, inf_sampler = _const(float("nan")), _const(float("inf"))
            neg_inf_sampler = _const(-float("inf"))

            def one_nan_sampler():
                def draw(n, seed):
                    out = torch.rand(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))
                    out[-1, 2, 15, 15] = float("nan")
                    return out
                return draw

            def failing_sampler():
                def draw(n, seed):
                    raise ValueError("sampler broke")
                return draw

            def exiting_sampler():
                return lambda n, seed: sys.exit("sampler exits")
        """,
        "fp_hard_exit_on_import": "import sys\nsys.exit(2)\n",
        "fp_hard_raise_on_import": "raise RuntimeError('import boom')\n",
    }
    for name, code in modules.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(code))
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "fp_hard_models"


class TestCardCode:
    @pytest.mark.parametrize(("spec", "match"), [
        ("sys:exit", r"'sys:exit' raised SystemExit \(it called sys\.exit\(None\)"),
        ("fp_hard_models:exits", r"'fp_hard_models:exits' raised SystemExit \(it called sys\.exit\(3\)"),
        ("fp_hard_models:boom", r"'fp_hard_models:boom' raised RuntimeError: boom in factory"),
    ])
    def test_factory_failures_name_card_and_callable(self, write_card, card_code, spec, match):
        path = write_card(_fields(callable=spec), "exiting.yaml")
        with pytest.raises(ModelCardError, match=r"model card .*exiting\.yaml: callable " + match):
            load_model(path)

    @pytest.mark.parametrize(("module", "match"), [
        ("fp_hard_exit_on_import", r"raised SystemExit \(it called sys\.exit\(2\)"),
        ("fp_hard_raise_on_import", "raised RuntimeError: import boom"),
    ])
    def test_import_failures_name_card_and_callable(self, write_card, card_code, module, match):
        path = write_card(_fields(callable=f"{module}:make"))
        with pytest.raises(ModelCardError, match=rf"card\.yaml: callable '{module}:make': importing module "
                                                 rf"'{module}' {match}"):
            load_model(path)

    def test_keyboard_interrupt_still_stops(self, write_card, card_code):
        with pytest.raises(KeyboardInterrupt):
            load_model(write_card(_fields(callable=f"{card_code}:interrupts")))

    @pytest.mark.parametrize(("factory", "match"), [
        ("failing_sampler", "raised ValueError: sampler broke while sampling 2 images"),
        ("exiting_sampler", r"raised SystemExit \(it called sys\.exit\('sampler exits'\)"),
    ])
    def test_sampler_failures_name_card_and_callable(self, write_card, card_code, factory, match):
        entry = load_model(write_card(_fields(callable=f"{card_code}:{factory}")))
        with pytest.raises(ModelCardError, match=rf"card\.yaml: callable '{card_code}:{factory}' {match}"):
            entry.sample(2, seed=0)

    @pytest.mark.parametrize(("factory", "count"), [("nan_sampler", 3 * 3 * 16 * 16),
                                                    ("inf_sampler", 3 * 3 * 16 * 16),
                                                    ("neg_inf_sampler", 3 * 3 * 16 * 16),
                                                    ("one_nan_sampler", 1)])
    def test_non_finite_samples_refused(self, write_card, card_code, factory, count):
        entry = load_model(write_card(_fields(callable=f"{card_code}:{factory}")))
        with pytest.raises(ModelCardError, match=rf"card\.yaml, callable '{card_code}:{factory}'\) returned "
                                                 rf"{count} NaN/inf value\(s\) among 2304"):
            entry.sample(3, seed=0)


class TestCardImages:
    def test_16bit_images_scaled_by_range(self, write_card, tmp_path):
        folder = tmp_path / "deep"
        folder.mkdir()
        values = np.linspace(0, 65535, 256).round().astype(np.uint16).reshape(16, 16)
        Image.fromarray(values).save(folder / "a.png")
        images = load_model(write_card(_fields(folder="deep"))).images()
        want = torch.from_numpy(np.round(values / 257).astype(np.float32) / 255)
        for channel in images[0]:
            torch.testing.assert_close(channel, want, atol=0, rtol=0)

    def test_decompression_bomb_refused_naming_limit(self, write_card, tmp_path, monkeypatch):
        folder = tmp_path / "bombs"
        folder.mkdir()
        Image.new("RGB", (16, 16)).save(folder / "a.png")
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)
        entry = load_model(write_card(_fields(folder="bombs")))
        with pytest.raises(ModelCardError, match=r"a\.png has more pixels than PIL's decompression-bomb "
                                                 r"limit of 200 .*downscale it"):
            entry.images()


def test_card_parser_on_generated_input():
    """YAML/JSON text, raw bytes and field mappings: a ModelCard with consistent fields, or
    ModelCardError; never another exception."""
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    names = ["id", "fingerprint", "n_bits", "resolution", "folder", "callable", "description"]
    words = ["", "m1", FINGERPRINT, "0110", "m:f", "..:f", "a\0b", "~/x", "2001-13-45"]
    scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2**70), st.floats(allow_nan=True),
                        st.sampled_from(words), st.text("01abc:.-_ ~\0\n\u00e9", max_size=12))
    values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.text("abc", max_size=3), inner, max_size=3), max_leaves=6)
    valid = _fields(callable="m:f")
    mappings = st.one_of(
        st.dictionaries(st.sampled_from(names) | st.text("abdino_", max_size=6), values, max_size=7),
        st.builds(lambda k, v, drop: {**{n: x for n, x in valid.items() if n != drop}, k: v},
                  st.sampled_from(names), values, st.sampled_from([*names, None])),
    )
    texts = st.text("abcdeinos01:-[]{}&*!|>#'\"\n ?,%@`\t<=\\\u00e9\u4e2d\ufeff\x85", max_size=160)

    def check_card(card: ModelCard) -> None:
        assert isinstance(card, ModelCard) and len(card.fingerprint) == card.n_bits >= 1
        assert (card.folder is None) != (card.callable is None)

    @hypothesis.settings(max_examples=50, deadline=None, database=None, derandomize=True)
    @hypothesis.given(data=mappings, text=texts, raw=st.binary(max_size=80),
                      suffix=st.sampled_from([".yaml", ".json"]))
    def check(data, text, raw, suffix):
        with tempfile.TemporaryDirectory() as tmp:
            base = Path(tmp)
            documents = [text.encode(), raw, yaml.safe_dump(data).encode()]
            try:
                documents.append(json.dumps(data).encode())
            except ValueError:  # out-of-range floats are fine for YAML, not for strict JSON
                pass
            for i, document in enumerate(documents):
                path = base / f"card{i}{suffix}"
                path.write_bytes(document)
                try:
                    check_card(load_card(path))
                except ModelCardError:
                    pass
            try:
                check_card(parse_card(data, base_dir=base))
            except ModelCardError:
                pass

    check()
