import pytest
import torch

from fpbench.zoo import ModelCardError, load_card, load_model

FINGERPRINT = "0110100111"


def _fields(**overrides):
    base = {"id": "m1", "fingerprint": FINGERPRINT, "n_bits": 10, "resolution": 16}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


class TestModelCard:
    @pytest.mark.parametrize("name", ["card.yaml", "card.json"])
    def test_loads_yaml_and_json(self, write_card, image_folder, name):
        card = load_card(write_card(_fields(folder="samples"), name))
        assert (card.id, card.fingerprint, card.n_bits, card.resolution) == ("m1", FINGERPRINT, 10, 16)
        assert card.folder == image_folder  # relative to the card
        assert card.fingerprint_bits[:3] == [0, 1, 1]

    def test_method_defaults_to_the_papers_and_decoder_is_read_from_the_cards_folder(self, write_card, tmp_path):
        card = load_card(write_card(_fields(callable="m:f")))
        assert (card.method, card.decoder) == ("artificial_fingerprint", None)
        path = write_card(_fields(callable="m:f", method="lsb", decoder="dec.pth"))
        (path.parent / "dec.pth").write_bytes(b"")
        card = load_card(path)
        assert (card.method, card.decoder) == ("lsb", path.parent / "dec.pth")

    @pytest.mark.parametrize(("fields", "message"), [
        ({"decoder": "missing.pth"}, "does not exist"),
        ({"decoder": "decoder.onnx"}, r"\.pth.*\.safetensors"),
        ({"decoder": 3}, "path of a decoder checkpoint"),
        ({"method": ""}, "method must be a method id"),
        ({"decodr": "d.pth"}, "Did you mean 'decoder'"),
    ])
    def test_bad_method_or_decoder(self, write_card, fields, message):
        with pytest.raises(ModelCardError, match=message):
            load_card(write_card(_fields(callable="m:f", **fields)))

    def test_fingerprint_with_other_characters(self, write_card):
        path = write_card(_fields(fingerprint="01102a0111", callable="m:f"))
        with pytest.raises(ModelCardError, match=r"only '0' and '1'.*'2', 'a'"):
            load_card(path)

    def test_fingerprint_length_vs_n_bits(self, write_card):
        with pytest.raises(ModelCardError, match="has 10 bits but n_bits is 12"):
            load_card(write_card(_fields(n_bits=12, callable="m:f")))

    def test_fingerprint_length_vs_decoder(self, write_card):
        path = write_card(_fields(callable="m:f"))
        with pytest.raises(ModelCardError, match="fingerprint has 10 bits but the decoder decodes 100 bits"):
            load_card(path, decoder_n_bits=100)

    def test_unquoted_yaml_number(self, tmp_path):
        path = tmp_path / "card.yaml"
        path.write_text("id: m1\nfingerprint: 0110\nn_bits: 4\nresolution: 16\ncallable: m:f\n")
        with pytest.raises(ModelCardError, match="quote it"):
            load_card(path)

    @pytest.mark.parametrize("fields,match", [
        (_fields(), "exactly one source"),
        (_fields(folder="x", callable="m:f"), "exactly one source"),
        (_fields(n_bits=None, callable="m:f"), "missing field"),
        (_fields(callable="m:f", resolutoin=16), "Did you mean 'resolution'"),
        (_fields(callable="no_colon"), "module:function|package.module:function"),
        (_fields(callable="m:f", resolution=0), "resolution must be a positive int"),
    ])
    def test_bad_fields(self, write_card, fields, match):
        with pytest.raises(ModelCardError, match=match):
            load_card(write_card(fields))

    def test_missing_card_file(self, tmp_path):
        with pytest.raises(ModelCardError, match="does not exist"):
            load_card(tmp_path / "nope.yaml")


class TestFolderModel:
    def test_loads_all_formats_as_rgb(self, write_card, image_folder):
        entry = load_model(write_card(_fields(folder=str(image_folder))))
        images = entry.images()
        assert images.shape == (6, 3, 16, 16) and images.dtype == torch.float32
        assert 0 <= float(images.min()) and float(images.max()) <= 1

    def test_sample_is_seeded_subset(self, write_card, image_folder):
        entry = load_model(write_card(_fields(folder="samples")))
        a, b, c = entry.sample(3, seed=1), entry.sample(3, seed=1), entry.sample(3, seed=2)
        assert a.shape == (3, 3, 16, 16) and torch.equal(a, b) and not torch.equal(a, c)
        with pytest.raises(ModelCardError, match="asked for 7 images.*holds 6"):
            entry.sample(7, seed=0)

    def test_no_generator_for_folders(self, write_card, image_folder):
        entry = load_model(write_card(_fields(folder="samples")))
        assert not entry.has_generator
        with pytest.raises(ModelCardError, match="model attacks need a callable generator"):
            _ = entry.generator

    def test_bad_path(self, write_card, tmp_path):
        with pytest.raises(ModelCardError, match="does not exist"):
            load_model(write_card(_fields(folder=str(tmp_path / "missing"))))

    def test_empty_folder(self, write_card, tmp_path):
        (tmp_path / "empty").mkdir()
        (tmp_path / "empty" / "readme.txt").write_text("no images")
        with pytest.raises(ModelCardError, match="holds no images"):
            load_model(write_card(_fields(folder="empty")))

    def test_wrong_image_size(self, write_card, image_folder):
        entry = load_model(write_card(_fields(folder="samples", resolution=32)))
        with pytest.raises(ModelCardError, match=r"is 16x16 \(WxH\), expected 32x32"):
            entry.sample(2, seed=0)


class TestCallableModel:
    def test_module_generator(self, write_card, generator_module):
        entry = load_model(write_card(_fields(callable=f"{generator_module}:dcgan")))
        assert entry.has_generator and isinstance(entry.generator, torch.nn.Module)
        a = entry.sample(5, seed=3)
        assert a.shape == (5, 3, 16, 16)
        torch.testing.assert_close(a, entry.sample(5, seed=3), atol=0, rtol=0)

    def test_sampler_function(self, write_card, generator_module):
        entry = load_model(write_card(_fields(callable=f"{generator_module}:sampler")))
        assert torch.equal(entry.sample(4, seed=1), entry.sample(4, seed=1))
        with pytest.raises(ModelCardError, match="model attacks need a callable generator"):
            _ = entry.generator

    def test_missing_module(self, write_card):
        with pytest.raises(ModelCardError, match="no module named 'fp_no_such_module'"):
            load_model(write_card(_fields(callable="fp_no_such_module:make")))

    def test_missing_function(self, write_card, generator_module):
        with pytest.raises(ModelCardError, match="has no attribute 'nope'"):
            load_model(write_card(_fields(callable=f"{generator_module}:nope")))

    def test_not_callable(self, write_card, generator_module):
        with pytest.raises(ModelCardError, match="not callable"):
            load_model(write_card(_fields(callable=f"{generator_module}:NOT_CALLABLE")))

    def test_factory_returns_junk(self, write_card, generator_module):
        with pytest.raises(ModelCardError, match="returned int"):
            load_model(write_card(_fields(callable=f"{generator_module}:not_a_model")))

    def test_output_checked(self, write_card, generator_module):
        entry = load_model(write_card(_fields(callable=f"{generator_module}:wrong_range")))
        with pytest.raises(ModelCardError, match=r"expected \[0, 1\]"):
            entry.sample(2, seed=0)
        wrong_size = load_model(write_card(_fields(callable=f"{generator_module}:sampler", resolution=32)))
        with pytest.raises(ModelCardError, match="expected"):
            wrong_size.sample(2, seed=0)
