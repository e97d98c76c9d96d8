"""Model-attack breakpoints: first grid value where the fingerprint fails vs where FID doubles."""

import math

from fpbench.reports.breakpoints import display, model_attack_breakpoints, write_breakpoints
from fpbench.results import row, to_frame


def _rows(attack, params, pass_rates, fids):
    out = []
    for severity, (p, pr, fid) in enumerate(zip(params, pass_rates, fids, strict=True)):
        where = dict(method="artificial_fingerprint", model="g", attack=attack, attack_kind="model", param=p,
                     severity=severity, n=100)
        out += [row(metric="pass_rate", value=pr, **where), row(metric="fid", value=fid, **where)]
    return out


def results():
    rows = [row(method="artificial_fingerprint", model="g", metric="fid", value=10.0, n=100)]
    rows += _rows("weight_noise", [0.0, 0.1, 0.2, 0.3], [1.0, 1.0, 0.2, 0.0], [10, 12, 25, 40])
    rows += _rows("pruning", [0.0, 0.5, 0.9], [1.0, 1.0, 0.9], [10, 30, 90])
    rows += _rows("weight_rounding", [3, 1, 0], [1.0, 0.4, 0.0], [10, 11, 12])
    return to_frame(rows)


class TestBreakpoints:
    def test_first_failing_and_doubling_values(self):
        table = model_attack_breakpoints(results()).set_index("attack")
        assert table.loc["weight_noise", "fingerprint_fails_at"] == 0.2
        assert table.loc["weight_noise", "fid_doubles_at"] == 0.2
        assert table.loc["weight_noise", "verdict"] == "both at the same severity"
        assert math.isnan(table.loc["pruning", "fingerprint_fails_at"])
        assert table.loc["pruning", "fid_doubles_at"] == 0.5
        assert table.loc["pruning", "verdict"] == "fingerprint survives the whole grid"
        # grid order is severity order, not numeric order: rounding goes 3 -> 1 -> 0 decimals
        assert table.loc["weight_rounding", "fingerprint_fails_at"] == 1
        assert table.loc["weight_rounding", "verdict"] == "fingerprint fails before FID doubles"
        assert (table["clean_fid"] == 10.0).all()

    def test_written_files_and_display(self, tmp_path):
        paths = write_breakpoints(results(), tmp_path)
        assert sorted(p.suffix for p in paths) == [".csv", ".md", ".tex"]
        shown = display(model_attack_breakpoints(results()))
        assert "never" in set(shown["fingerprint fails at (pass rate < 0.5)"])

    def test_no_model_rows_writes_nothing(self, tmp_path):
        df = results()
        assert write_breakpoints(df[df["attack_kind"] != "model"], tmp_path) == []
        assert not list(tmp_path.iterdir())
