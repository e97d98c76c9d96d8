"""The report pages in headless Chromium (opt-in: ``tox -e browser`` or ``pytest -m browser``).

A real smoke report and a compare page must pass :func:`fpbench.reports.browser.check_page` at 1280 px;
small hand-written pages prove that the checker fails on each defect it looks for. ``FPBENCH_BROWSER_RUN``
names an existing run folder to use instead of running the smoke preset (about a minute cold on 2 idle
cores, several under load); the run's cache is ``$FPBENCH_CACHE_DIR`` when set, else a temporary folder.
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from fpbench.reports.browser import check_page, save_screenshot
from fpbench.results import read_results, write_results

pytestmark = pytest.mark.browser

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), (0, 114, 178)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


WIDE_TABLE = ("<table><tr>" + "".join(f"<th>column {i}</th>" for i in range(60)) + "</tr><tr>"
              + "".join(f"<td>0.{i:04d} +- 0.0012</td>" for i in range(60)) + "</tr></table>")
TOC = '<nav><a href="#headline">Headline</a> <a href="#results">Results</a></nav>'
HEADLINE = '<section id="headline"><h2>Headline</h2><p>bit accuracy 0.99 at 32 dB</p></section>'
BOXED = f'<div class="table-box">{WIDE_TABLE}</div>'
RESULTS = f'<h2 id="results">Results</h2>{BOXED}'


def _page(body: str) -> str:
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>t</title><style>'
            "body{max-width:1180px;margin:1em auto;padding:0 1em}th,td{white-space:nowrap;padding:.2em .6em}"
            ".table-box{max-width:100%;overflow:auto}</style></head><body>" + body + "</body></html>")


GOOD = TOC + HEADLINE + RESULTS + f'<figure><img alt="a plot" src="{_png_data_uri()}"></figure>'

# (defect, page body, words its one problem must contain)
DEFECTS = [
    ("wide table outside a scroll box", GOOD.replace(BOXED, WIDE_TABLE),
     "horizontal overflow: the page is"),
    ("garbage image", GOOD + '<img alt="broken plot" src="data:image/png;base64,bm90IGEgcG5n">',
     "image not loaded: broken plot"),
    ("dangling link", GOOD + '<a href="#no-such-section">more</a>', "missing section: #no-such-section"),
    ("console.error", GOOD + '<script>console.error("render failed")</script>',
     "console error: render failed"),
    ("uncaught exception", GOOD + "<script>undefinedRenderer()</script>", "script error"),
    ("headline after a table", f"<details><summary>raw</summary>{WIDE_TABLE}</details>" + GOOD,
     "comes after the first table"),
    ("no headline", GOOD.replace('id="headline"', 'id="summary"').replace("#headline", "#summary"),
     "no headline"),
]


class TestChecker:
    def test_good_page_passes(self, tmp_path):
        """A table wider than the page scrolling in its own box is fine; so is a headline holding a table."""
        path = tmp_path / "good.html"
        path.write_text(_page(GOOD.replace("</section>", "<table><tr><td>1</td></tr></table></section>")),
                        encoding="utf-8")
        shot = tmp_path / "good.png"
        assert check_page(path, screenshot=shot) == []
        assert shot.read_bytes().startswith(PNG_MAGIC)

    @pytest.mark.parametrize(("body", "expected"), [d[1:] for d in DEFECTS], ids=[d[0] for d in DEFECTS])
    def test_defect_is_reported(self, tmp_path, body, expected):
        path = tmp_path / "page.html"
        path.write_text(_page(body), encoding="utf-8")
        problems = check_page(path)
        assert len(problems) == 1 and expected in problems[0], problems

    def test_overflow_names_the_culprit(self, tmp_path):
        """At 1400 px a table of 1200 px fits the page; at 1000 px it overflows and is named."""
        path = tmp_path / "wide.html"
        fixed = '<table id="fixed" style="width:1200px"><tr><td>x</td></tr></table>'
        page = _page(HEADLINE + fixed).replace("max-width:1180px", "max-width:none")
        path.write_text(page, encoding="utf-8")
        assert check_page(path, width=1400) == []
        (problem,) = check_page(path, width=1000)
        assert "in a 1000 px viewport: table#fixed (1200 px wide)" in problem, problem

    def test_element_screenshot(self, tmp_path):
        path = tmp_path / "good.html"
        path.write_text(_page(GOOD), encoding="utf-8")
        shot = save_screenshot(path, tmp_path / "headline.png", selector="#headline")
        with Image.open(shot) as image:
            assert image.width <= 1280 and 0 < image.height < 300

    def test_missing_element_screenshot(self, tmp_path):
        path = tmp_path / "good.html"
        path.write_text(_page(GOOD), encoding="utf-8")
        with pytest.raises(ValueError, match="#nothing"):
            save_screenshot(path, tmp_path / "x.png", selector="#nothing")


def _fpbench(*args: str) -> None:
    """Run the installed ``fpbench`` command (the one beside this Python) and fail with its output."""
    exe = Path(sys.executable).with_name("fpbench")
    done = subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"fpbench {' '.join(args)} exited {done.returncode}:\n{done.stderr[-4000:]}"


def _show(capsys, what: str, path: Path) -> None:
    with capsys.disabled():
        print(f"\n{what}: {path}")


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """A smoke run folder rendered by today's code: ``$FPBENCH_BROWSER_RUN`` copied and re-rendered, else a
    fresh ``fpbench run --preset smoke``."""
    out = tmp_path_factory.mktemp("browser") / "run"
    reuse = os.environ.get("FPBENCH_BROWSER_RUN")
    if reuse:
        shutil.copytree(reuse, out)
        _fpbench("report", str(out))
        return out
    cache = [] if os.environ.get("FPBENCH_CACHE_DIR") else ["--cache-dir", str(out.parent / "cache")]
    _fpbench("run", "--preset", "smoke", "--out", str(out), *cache)
    return out


def _worse(run: Path, out: Path) -> Path:
    """A copy of ``run`` whose bit accuracies are 0.1 lower: something for a compare page to flag."""
    shutil.copytree(run, out)
    df = read_results(run / "results.csv")
    hit = df["metric"] == "bit_accuracy"
    for col in ("value", "ci_low", "ci_high"):
        df.loc[hit, col] = (df.loc[hit, col] - 0.1).clip(lower=0.0)
    write_results(df, out / "results.csv")
    return out


class TestRealPages:
    def test_smoke_report(self, smoke_run, tmp_path, capsys):
        shot = tmp_path / "smoke-report.png"
        assert check_page(smoke_run / "report.html", screenshot=shot) == []
        assert shot.read_bytes().startswith(PNG_MAGIC)
        _show(capsys, "smoke report screenshot", shot)

    def test_smoke_report_with_a_wide_table_fails(self, smoke_run, tmp_path):
        """The report's own stylesheet does not hide a table put outside its scroll box."""
        page = (smoke_run / "report.html").read_text(encoding="utf-8")
        broken = tmp_path / "report.html"
        broken.write_text(page.replace("</body>", WIDE_TABLE + "</body>"), encoding="utf-8")
        problems = check_page(broken)
        assert len(problems) == 1 and "horizontal overflow" in problems[0], problems

    def test_compare_page(self, smoke_run, tmp_path, capsys):
        worse = _worse(smoke_run, tmp_path / "worse")
        page = tmp_path / "compare.html"
        _fpbench("compare", str(smoke_run), str(worse), "--html", str(page))
        shot = tmp_path / "compare.png"
        assert check_page(page, screenshot=shot) == []
        _show(capsys, "compare page screenshot", shot)
