"""A report page checked in a real browser: headless Chromium, driven by Playwright.

:func:`check_page` opens an HTML file at a given viewport width and lists what a reader would trip over:
the page scrolling sideways, an image that did not load, the headline missing or after the first table, a
``#link`` to nothing, a console or script error. :func:`save_screenshot` saves a picture of the page or of
one element. Playwright is the optional ``browser`` extra and is imported only here, inside the functions;
Chromium comes from the system (``apt-get install chromium``), never a download at test time.

    >>> from fpbench.reports.browser import check_page
    >>> check_page("runs/smoke/report.html", screenshot="report.png")  # doctest: +SKIP
    []
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: an explicit Chromium or Chrome binary, tried before :data:`CHROMIUM_NAMES`
CHROMIUM_ENV = "FPBENCH_CHROMIUM"
#: looked up on ``PATH`` and in /usr/bin, in this order
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL_HINT = ("install Debian's with `apt-get install chromium` (or `bash scripts/install_chromium.sh`), "
                f"or point ${CHROMIUM_ENV} at a Chromium/Chrome binary")

# One pass over the laid-out page; returns the facts check_page turns into problems. Overflow culprits are
# the outermost elements reaching past the viewport that no scrolling or clipping ancestor contains.
_INSPECT_JS = """(headlineSelector) => {
  const root = document.documentElement;
  const width = root.clientWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className.trim()
       ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body && a !== root; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  };
  const culprits = [];
  if (root.scrollWidth > width) {
    for (const el of document.body.querySelectorAll('*')) {
      const right = el.getBoundingClientRect().right;
      const parent = el.parentElement;
      if (right > width + 1 && parent.getBoundingClientRect().right <= width + 1 && !clipped(el)) {
        culprits.push(describe(el) + ' (' + Math.round(el.getBoundingClientRect().width) + ' px wide)');
      }
      if (culprits.length === 3) break;
    }
  }
  const images = [...document.images].filter((img) => !(img.complete && img.naturalWidth > 0))
    .map((img) => (img.alt || img.src).slice(0, 80));
  const headline = document.querySelector(headlineSelector);
  let headlineProblem = null;
  if (headline === null) {
    headlineProblem = 'missing';
  } else if (headline.getClientRects().length === 0) {
    headlineProblem = 'hidden';
  } else {
    const table = [...document.querySelectorAll('table')].find((t) => !headline.contains(t));
    if (table && !(headline.compareDocumentPosition(table) & Node.DOCUMENT_POSITION_FOLLOWING)) {
      headlineProblem = 'after-table';
    }
  }
  const dangling = [...document.querySelectorAll('a[href^="#"]')]
    .map((a) => a.getAttribute('href').slice(1))
    .filter((id) => {
      let name = id;
      try { name = decodeURIComponent(id); } catch (e) { /* keep it as written */ }
      return name !== '' && document.getElementById(name) === null
        && document.getElementsByName(name).length === 0;
    });
  return {scrollWidth: root.scrollWidth, width, culprits, images, headlineProblem,
          dangling: [...new Set(dangling)]};
}"""


class ChromiumNotFound(RuntimeError):
    """No Chromium or Chrome binary on this machine."""


def find_chromium() -> str:
    """The Chromium binary to drive: ``$FPBENCH_CHROMIUM``, else the first of :data:`CHROMIUM_NAMES` on
    ``PATH`` or in /usr/bin. Raises :class:`ChromiumNotFound` with the fix when there is none."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        if shutil.which(explicit) is None:
            raise ChromiumNotFound(f"${CHROMIUM_ENV}={explicit} is not an executable file: {INSTALL_HINT}")
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name) or shutil.which(f"/usr/bin/{name}")
        if found:
            return found
    raise ChromiumNotFound(f"no Chromium found (looked for ${CHROMIUM_ENV}, {', '.join(CHROMIUM_NAMES)}): "
                           f"{INSTALL_HINT}")


@contextmanager
def _open_page(path: str | Path, width: int, errors: list[str]) -> Iterator[Any]:
    """A headless Chromium tab showing ``path`` at ``width`` px, loaded; console and script errors are
    appended to ``errors`` as they happen."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise ImportError("checking a page in a browser needs Playwright: "
                          "pip install 'fpbench[browser]'") from exc
    file = Path(path).resolve()
    if not file.is_file():
        raise FileNotFoundError(f"no page at {file}")
    if width < 1:
        raise ValueError(f"width must be a positive number of pixels, got {width}")
    executable = find_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda msg: errors.append(f"console error: {msg.text}")
                    if msg.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
            page.goto(file.as_uri(), wait_until="load")
            yield page
        finally:
            browser.close()


def check_page(path: str | Path, *, width: int = 1280, screenshot: str | Path | None = None,
               headline_selector: str = "#headline") -> list[str]:
    """Open the HTML file ``path`` in headless Chromium ``width`` px wide and list its problems (empty:
    the page is fine). A problem is any of: the page wider than the viewport (a table scrolling inside its
    own ``overflow:auto`` box is fine), an ``<img>`` not loaded, no ``headline_selector`` element or one
    that is hidden or comes after the first ``<table>`` in document order (tables in closed ``<details>``
    count), an ``<a href="#id">`` with no such id, a console error or an uncaught script error.
    ``screenshot``: also save a full-page PNG there."""
    errors: list[str] = []
    with _open_page(path, width, errors) as page:
        facts = page.evaluate(_INSPECT_JS, headline_selector)
        if screenshot is not None:
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
    problems = []
    if facts["scrollWidth"] > facts["width"]:
        widest = f": {', '.join(facts['culprits'])}" if facts["culprits"] else ""
        problems.append(f"horizontal overflow: the page is {facts['scrollWidth']} px wide in a "
                        f"{facts['width']} px viewport{widest}")
    problems += [f"image not loaded: {name}" for name in facts["images"]]
    headline = {"missing": f"no headline: nothing matches {headline_selector!r}",
                "hidden": f"headline {headline_selector!r} is not displayed",
                "after-table": f"headline {headline_selector!r} comes after the first table"}
    if facts["headlineProblem"]:
        problems.append(headline[facts["headlineProblem"]])
    problems += [f"link to a missing section: #{target}" for target in facts["dangling"]]
    return problems + errors


def save_screenshot(path: str | Path, out: str | Path, *, selector: str | None = None,
                    width: int = 1280) -> Path:
    """Save a PNG of the page ``path`` at ``width`` px to ``out``: the whole page, or only the first
    element matching ``selector`` (say ``"#headline"``). Returns ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with _open_page(path, width, []) as page:
        if selector is None:
            page.screenshot(path=str(out), full_page=True)
        else:
            element = page.query_selector(selector)
            if element is None:
                raise ValueError(f"nothing in {path} matches {selector!r}")
            element.screenshot(path=str(out))
    return out
