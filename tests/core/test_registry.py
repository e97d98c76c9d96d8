"""fpbench.registry.Registry: ids checked at the door, duplicates rejected, did-you-mean errors."""

from __future__ import annotations

import pytest

from fpbench.registry import DuplicateIdError, Registry, UnknownIdError


@pytest.fixture
def colours() -> Registry[str]:
    reg = Registry[str]("colour")
    reg.add("red", "#f00")
    reg.add("green", "#0f0")
    reg.add("blue", "#00f")
    return reg


class TestRegistry:
    def test_add_and_get(self, colours):
        assert colours.get("green") == "#0f0"
        assert colours.ids() == ["red", "green", "blue"]
        assert colours.items()[0] == ("red", "#f00")
        assert len(colours) == 3 and list(colours) == ["red", "green", "blue"]
        assert "blue" in colours and "purple" not in colours

    def test_decorator_registers_and_returns_entry(self):
        reg = Registry[object]("thing")

        @reg.register("f")
        def f() -> int:
            return 1

        assert reg.get("f") is f and f() == 1

    def test_duplicate_rejected_and_first_kept(self, colours):
        with pytest.raises(DuplicateIdError, match="'red' is already registered"):
            colours.add("red", "#ff0000")
        assert colours.get("red") == "#f00"

    @pytest.mark.parametrize("bad", ["", " red", "red ", "\tx"])
    def test_invalid_ids(self, colours, bad):
        with pytest.raises(ValueError, match="invalid colour id"):
            colours.add(bad, "#000")

    def test_unknown_id_suggests_close_match(self, colours):
        with pytest.raises(UnknownIdError) as info:
            colours.get("gren")
        msg = str(info.value)
        assert "unknown colour 'gren'" in msg
        assert "Did you mean 'green'" in msg
        assert "Valid colour ids: blue, green, red." in msg
        assert not msg.startswith('"')  # plain text, not KeyError's repr quoting
        assert isinstance(info.value, KeyError)

    def test_unknown_id_without_close_match_has_no_hint(self, colours):
        with pytest.raises(UnknownIdError) as info:
            colours.get("zzzzzzzz")
        assert "Did you mean" not in str(info.value)
        assert "Valid colour ids" in str(info.value)
