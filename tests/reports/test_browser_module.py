"""fpbench.reports.browser without a browser: Playwright stays optional, missing pieces name their fix.

The checks themselves run in Chromium in tests/browser (``pytest -m browser``).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fpbench.reports import browser


class TestBrowserModule:
    def test_import_loads_no_playwright(self):
        code = "import sys, fpbench.reports.browser; print('playwright' in sys.modules)"
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        assert done.stdout.strip() == "False"

    def test_no_playwright_names_the_extra(self, monkeypatch, tmp_path):
        monkeypatch.setitem(sys.modules, "playwright", None)
        monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
        page = tmp_path / "page.html"
        page.write_text("<p>hi</p>", encoding="utf-8")
        with pytest.raises(ImportError, match=r"pip install 'fpbench\[browser\]'"):
            browser.check_page(page)

    def test_env_var_wins(self, monkeypatch):
        monkeypatch.setenv(browser.CHROMIUM_ENV, sys.executable)
        assert browser.find_chromium() == sys.executable

    @pytest.mark.parametrize("setting", ["/no/such/chromium", "no-such-chromium-binary"])
    def test_bad_env_var_is_named(self, monkeypatch, setting):
        monkeypatch.setenv(browser.CHROMIUM_ENV, setting)
        with pytest.raises(browser.ChromiumNotFound, match=f"FPBENCH_CHROMIUM={setting}.*apt-get install chromium"):
            browser.find_chromium()

    def test_no_chromium_names_the_fix(self, monkeypatch):
        monkeypatch.delenv(browser.CHROMIUM_ENV, raising=False)
        monkeypatch.setattr(browser, "CHROMIUM_NAMES", ("no-such-chromium-binary",))
        with pytest.raises(browser.ChromiumNotFound, match="no Chromium found.*apt-get install chromium"):
            browser.find_chromium()
