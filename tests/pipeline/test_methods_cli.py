"""`fpbench methods` lists every registered method, built-in and plug-in."""

from __future__ import annotations

from fpbench.methods import all_methods
from fpbench.pipeline.cli import main


def test_methods_lists_the_registry(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    ids = all_methods().ids()
    assert "artificial_fingerprint" in ids
    for method_id in ids:
        assert method_id in out
    assert "artificial_fingerprint             learned" in out
