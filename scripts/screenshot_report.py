"""Screenshot a run's report page (or one element of it) in headless Chromium, for the docs.

    python scripts/screenshot_report.py runs/quick --out docs/report-headline.png
    python scripts/screenshot_report.py runs/quick --out report.png --full-page --width 1600

RUN_DIR is a run folder (its ``report.html`` is shot) or an HTML file. Re-render an old run with today's
code first (``fpbench report RUN_DIR``). Needs the ``browser`` extra (``pip install 'fpbench[browser]'``)
and a system Chromium (``bash scripts/install_chromium.sh``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fpbench.reports.browser import ChromiumNotFound, save_screenshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder holding report.html, or an HTML file")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    parser.add_argument("--selector", default="#headline", help="CSS selector of the element to shoot")
    parser.add_argument("--full-page", action="store_true", help="shoot the whole page instead")
    parser.add_argument("--width", type=int, default=1280, help="viewport width in px (default 1280)")
    args = parser.parse_args(argv)
    page = args.run_dir / "report.html" if args.run_dir.is_dir() else args.run_dir
    try:
        out = save_screenshot(page, args.out, selector=None if args.full_page else args.selector,
                              width=args.width)
    except (ChromiumNotFound, ImportError, FileNotFoundError, ValueError) as exc:
        print(f"screenshot_report: {exc}", file=sys.stderr)
        return 2
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
