"""The compare page: two hand-made runs whose changes are known, rendered and read back with html.parser."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from fpbench.pipeline.cli import main
from fpbench.reports.compare import compare_runs
from fpbench.reports.compare_page import from_regression, render_comparison
from fpbench.reports.regression import check_regression
from fpbench.results import row, to_frame, validate, write_results

FP = "artificial_fingerprint"
JPEG = {"attack": "jpeg", "attack_kind": "image", "param": 50.0, "severity": 1, "attack_version": 1}
# metric tolerances, and one row rule (JPEG 50) looser than its metric's: the most specific rule wins
TOLERANCE = {"format": 1, "metrics": {"bit_accuracy": 0.01, "fid": 0.5, "pass_rate": 0.01, "p_value": 0.01,
                                      "control_bit_accuracy": 0.01, "attribution_accuracy": 0.01},
             "rows": [{"model": "progan", "attack": "jpeg", "param": 50, "metric": "bit_accuracy",
                       "tolerance": 0.05}]}
# what each row does between the runs, under TOLERANCE
EXPECTED = {"worse": 2, "removed": 1, "improved": 1, "added": 1, "unchanged": 2}


def _run(old: bool) -> pd.DataFrame:
    """The old run, or the new one: clean bit accuracy worse beyond tolerance, FID better, pass rate and
    JPEG bit accuracy moved within their tolerances, the p-value row removed, an attribution row added,
    and the control bit accuracy drifted from its ideal 0.5 downwards (lower is not better there)."""
    rows = [
        row(method=FP, model="progan", metric="bit_accuracy", value=0.98 if old else 0.90, n=500),
        row(method=FP, model="progan", metric="fid", value=14.0 if old else 12.0, n=500, extractor="inception"),
        row(method=FP, model="progan", metric="pass_rate", value=0.95 if old else 0.953, n=500),
        row(method=FP, model="progan", metric="bit_accuracy", value=0.75 if old else 0.73, n=500, **JPEG),
        row(method=FP, model="progan", metric="control_bit_accuracy", value=0.50 if old else 0.44, n=500),
    ]
    if old:
        rows.append(row(method=FP, model="progan", metric="p_value", value=1e-20, n=500))
    else:
        rows.append(row(method=FP, model="progan", metric="attribution_accuracy", value=0.9, n=400,
                        world="closed"))
    frame = to_frame(rows)
    assert validate(frame) == []
    return frame


class Page(HTMLParser):
    """What the tests read from a page: start tags in order, ids, links, table rows by section."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[dict] = []  # section (id of the h2 above), class and cells of each body row
        self.headline: list[str] = []
        self._section, self._cells, self._in_headline, self._in_head = "", None, False, False
        self.feed(text)

    @property
    def ids(self) -> set[str]:
        return {a["id"] for _, a in self.tags if "id" in a}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "h2":
            self._section = attrs.get("id", "")
        if tag == "div" and attrs.get("id") == "headline":
            self._in_headline = True
        self._in_head = self._in_head or tag == "thead"
        if tag == "tr" and not self._in_head:  # header rows are not kept
            self._cells, self._class = [], attrs.get("class", "")
        if tag == "td" and self._cells is not None:
            self._cells.append("")

    def handle_endtag(self, tag):
        if tag == "div":
            self._in_headline = False
        if tag == "thead":
            self._in_head = False
        if tag == "tr" and self._cells is not None:
            self.rows.append({"section": self._section, "class": self._class, "cells": self._cells})
            self._cells = None

    def handle_data(self, data):
        if self._in_headline:
            self.headline.append(data)
        if self._cells:  # inside a body row's cell
            self._cells[-1] += data

    def section(self, name: str) -> list[dict]:
        return [r for r in self.rows if r["section"] == name]


def _find(rows: list[dict], *texts: str) -> dict:
    found = [r for r in rows if all(t in r["cells"] for t in texts)]
    assert len(found) == 1, (texts, rows)
    return found[0]


def _check_self_contained(page: Page, text: str) -> None:
    """Every in-page link resolves; nothing is fetched from outside; no script."""
    hrefs = [a["href"] for _, a in page.tags if "href" in a]
    assert hrefs and all(h.startswith("#") and h[1:] in page.ids for h in hrefs), hrefs
    urls = [v for _, a in page.tags for k, v in a.items() if k in ("src", "href") and v]
    assert not [u for u in urls if u.startswith(("http://", "https://", "//"))]
    assert not [t for t, _ in page.tags if t in ("script", "link", "iframe")]
    assert "url(" not in text and "@import" not in text


@pytest.fixture(scope="module")
def page_text() -> str:
    rows = compare_runs(_run(old=True), _run(old=False), tolerance=TOLERANCE)
    return render_comparison(rows, old="runs/a", new="runs/b", tolerance="the rules of mini.tolerance.json")


class TestComparePage:
    def test_worse_row_marked_in_worse_section(self, page_text):
        worse = _find(Page(page_text).section("worse"), "bit accuracy ↑", "none")
        assert worse["class"] == "worse" and worse["cells"][0] == "worse"
        assert worse["cells"][-4:] == ["0.980", "0.900", "-0.080", "0.010"]  # old, new, delta, tolerance
        assert "↑ higher" in worse["cells"]

    def test_ideal_metric_drifting_from_it_is_worse(self, page_text):
        control = _find(Page(page_text).section("worse"), "control bit accuracy ↓")
        assert control["class"] == "worse" and "→ 0.500" in control["cells"]

    def test_improved_removed_added(self, page_text):
        page = Page(page_text)
        assert _find(page.section("improved"), "fid ↓")["class"] == "improved"
        assert _find(page.section("removed"), "p value ↓")["class"] == ""
        assert _find(page.section("added"), "attribution accuracy ↑", "closed")["cells"][0] == "added"

    def test_within_tolerance_is_unchanged(self, page_text):
        unchanged = Page(page_text).section("unchanged")
        assert _find(unchanged, "pass rate ↑")["class"] == ""
        jpeg = _find(unchanged, "jpeg", "50")  # moved 0.02: beyond its metric's 0.01, inside its row's 0.05
        assert jpeg["cells"][-1] == "0.050"
        assert sorted(len(Page(page_text).section(c)) for c in EXPECTED) == sorted(EXPECTED.values())

    def test_headline_counts_and_verdict_before_first_table(self, page_text):
        page = Page(page_text)
        headline = "".join(page.headline)
        assert ", ".join(f"{n} {c}" for c, n in EXPECTED.items()) in headline
        assert "2 measurements got worse beyond tolerance; 1 measurement is missing from the new run" in headline
        assert "mini.tolerance.json" in headline and "runs/a" in headline and "runs/b" in headline
        starts = [t for t, _ in page.tags]
        first_table = starts.index("table")
        assert [i for i, (_, a) in enumerate(page.tags) if a.get("id") == "headline"][0] < first_table

    def test_self_contained_with_stable_anchors(self, page_text):
        page = Page(page_text)
        _check_self_contained(page, page_text)
        assert set(EXPECTED) | {"headline"} <= page.ids

    def test_identical_runs_nothing_got_worse_and_unchanged_collapsed(self, sample_results):
        text = render_comparison(compare_runs(sample_results, sample_results), old="a", new="a", tolerance="0")
        page = Page(text)
        assert "nothing got worse" in "".join(page.headline)
        assert len(page.section("unchanged")) == len(sample_results)
        assert "details" in [t for t, _ in page.tags]
        _check_self_contained(page, text)

    def test_regression_check_gives_the_same_changes(self):
        old, new = _run(old=True), _run(old=False)
        compared = compare_runs(old, new, tolerance=TOLERANCE)
        checked = from_regression(check_regression(new, old, TOLERANCE))
        assert checked["change"].value_counts().to_dict() == compared["change"].value_counts().to_dict()
        assert compared["change"].value_counts().to_dict() == {c: n for c, n in EXPECTED.items()}


def _write_run(folder: Path, frame: pd.DataFrame) -> Path:
    folder.mkdir(parents=True)
    write_results(frame, folder / "results.csv")
    return folder


class TestCli:
    @pytest.fixture()
    def runs(self, tmp_path) -> tuple[Path, Path, Path]:
        tol = tmp_path / "mini.tolerance.json"
        tol.write_text(json.dumps(TOLERANCE), encoding="utf-8")
        return _write_run(tmp_path / "a", _run(old=True)), _write_run(tmp_path / "b", _run(old=False)), tol

    def test_compare_writes_the_page(self, runs, tmp_path, capsys):
        a, b, tol = runs
        out = tmp_path / "pages" / "compare.html"
        assert main(["compare", str(a), str(b), "--tolerance", str(tol), "--html", str(out)]) == 0
        printed = capsys.readouterr().out
        assert printed.startswith("2 worse, 1 removed, 1 improved, 1 added, 2 unchanged")
        assert printed.rstrip().endswith(f"wrote {out}")
        page = Page(out.read_text(encoding="utf-8"))
        assert str(tol) in "".join(page.headline)
        assert _find(page.section("worse"), "bit accuracy ↑", "none")["class"] == "worse"

    def test_compare_without_tolerance_counts_every_move(self, runs, tmp_path, capsys):
        a, b, _ = runs
        out = tmp_path / "compare.html"
        assert main(["compare", str(a), str(b), "--html", str(out)]) == 0
        headline = "".join(Page(out.read_text(encoding="utf-8")).headline)
        assert "3 worse, 1 removed, 2 improved, 1 added, 0 unchanged" in headline
        assert "absolute tolerance 0" in headline

    @pytest.mark.parametrize(("reference_run", "code", "verdict"), [
        ("a", 1, "2 measurements got worse beyond tolerance"),
        ("b", 0, "nothing got worse"),
    ])
    def test_check_writes_the_page_and_keeps_its_exit_code(self, runs, tmp_path, capsys, reference_run, code,
                                                           verdict):
        a, b, tol = runs
        ref = tmp_path / "ref"
        ref.mkdir()
        (ref / "mini.csv").write_bytes(((a if reference_run == "a" else b) / "results.csv").read_bytes())
        (ref / "mini.tolerance.json").write_bytes(tol.read_bytes())
        out = tmp_path / "check.html"
        assert main(["check", str(b), "--reference", str(ref / "mini.csv"), "--html", str(out)]) == code
        assert f"wrote {out}" in capsys.readouterr().out
        text = out.read_text(encoding="utf-8")
        page = Page(text)
        assert verdict in "".join(page.headline)
        _check_self_contained(page, text)

    @pytest.mark.parametrize(("make_args", "message"), [
        (lambda a, b, t: ["compare", str(t.parent), str(b)], "no results.csv"),
        (lambda a, b, t: ["compare", str(a), str(b), "--tolerance", str(t.parent / "nope.json")],
         "cannot read the tolerance file"),
        (lambda a, b, t: ["compare", str(a), str(b), "--tolerance", str(a / "results.csv")], "is not JSON"),
        (lambda a, b, t: ["check", str(t.parent), "--reference", "smoke"], "no results.csv"),
    ])
    def test_bad_input_is_refused_before_work(self, runs, tmp_path, capsys, make_args, message):
        a, b, tol = runs
        out = tmp_path / "out" / "page.html"
        assert main([*make_args(a, b, tol), "--html", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
        assert not out.parent.exists()

    def test_html_folder_is_refused(self, runs, capsys):
        a, b, _ = runs
        assert main(["compare", str(a), str(b), "--html", str(a)]) == 2
        assert "is a folder" in capsys.readouterr().err
