"""HTML building blocks shared by the report page and the compare page.

One stylesheet, one self-contained document (no script, no font or image from outside: PNGs are embedded
as base64), tables that scroll inside their own box under a sticky header (never the page), long tables
collapsed behind a summary line, and stable ``#anchors``. Colours are Okabe-Ito (colour-blind safe) and
never the only cue: a marked row also says what it is in words.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

#: tables with more rows than this are collapsed behind a ``<details>`` summary line
COLLAPSE_ROWS = 20

CSS = """:root{--fg:#1a1a1a;--muted:#555;--rule:#d6d6d6;--head:#f3f3f3;--worse:#fbe0cc;--better:#d4e6f4}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:1.5em auto;
padding:0 1em;color:var(--fg);line-height:1.45}
h1{margin-bottom:.2em}h2{margin-top:2em;border-bottom:1px solid var(--rule);padding-bottom:.2em}
p,li,summary,figcaption,dd,code{overflow-wrap:anywhere}
nav.toc{background:var(--head);padding:.6em 1em;border-radius:4px}nav.toc ol{margin:.2em 0;padding-left:1.4em}
.table-box{max-width:100%;overflow:auto;max-height:34em;margin:.4em 0 1.4em;border:1px solid var(--rule)}
.table-box table{border-collapse:separate;border-spacing:0;font-size:.88em;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #e4e4e4;padding:.25em .6em;text-align:left;white-space:nowrap;vertical-align:top}
thead th{position:sticky;top:0;background:var(--head);border-bottom:2px solid #444;z-index:1}
.table-box.wrap td{white-space:normal;overflow-wrap:anywhere;min-width:8em}
tr.worse td{background:var(--worse)}tr.improved td{background:var(--better)}
details{margin:.4em 0 1em}details>summary{cursor:pointer;color:#0b4f8a}
figure{margin:1em 0 1.6em}img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-style:italic;color:var(--muted)}
.pair{display:block}.muted{color:var(--muted)}
dl.headline{display:grid;grid-template-columns:minmax(12em,max-content) 1fr;gap:.35em 1.2em;
background:#f7f9fb;border:1px solid var(--rule);border-radius:4px;padding:.8em 1em}
dl.headline dt{font-weight:600}dl.headline dd{margin:0}
pre{overflow:auto;max-width:100%;background:var(--head);padding:.6em}"""


def slug(text: str) -> str:
    """A stable anchor id: ``'Model attacks (FID)'`` -> ``'model-attacks-fid'``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def esc(text: object) -> str:
    return html.escape(str(text))


def inline_code(text: str) -> str:
    """Escaped text with Markdown-style ``code`` spans as ``<code>``."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(text))


def document(title: str, body: Iterable[str]) -> str:
    """A complete self-contained HTML page."""
    head = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>")
    return "\n".join([head, *body, "</body></html>"]) + "\n"


def table(frame: pd.DataFrame, row_classes: Sequence[str] | None = None) -> str:
    """A plain HTML table of a frame of strings (every cell escaped), optionally a class per row."""
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    classes = list(row_classes) if row_classes is not None else [""] * len(frame)
    rows = []
    for cls, values in zip(classes, frame.itertuples(index=False), strict=True):
        attr = f' class="{esc(cls)}"' if cls else ""
        rows.append(f"<tr{attr}>" + "".join(f"<td>{esc(v)}</td>" for v in values) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def table_box(frame: pd.DataFrame, *, title: str = "", anchor: str = "", note: str = "",
              row_classes: Sequence[str] | None = None, collapse_rows: int = COLLAPSE_ROWS,
              wrap: bool = False) -> str:
    """A titled table in its own scroll box; longer than ``collapse_rows`` rows, collapsed behind a
    summary line that gives the title and the row count. ``wrap``: long cells wrap (key/value lists)
    instead of widening the table."""
    box = f'<div class="table-box{" wrap" if wrap else ""}">{table(frame, row_classes)}</div>'
    note_html = f'<p class="muted">{inline_code(note)}</p>' if note else ""
    id_attr = f' id="{esc(anchor)}"' if anchor else ""
    if len(frame) > collapse_rows:
        summary = f"{esc(title)} ({len(frame)} rows)" if title else f"{len(frame)} rows"
        return f"<details{id_attr}><summary>{summary}</summary>{note_html}{box}</details>"
    heading = f"<h3{id_attr}>{esc(title)}</h3>" if title else ""
    return heading + note_html + box


def figure(path: str | Path, caption: str, anchor: str = "") -> str:
    """A PNG embedded as base64, with its caption."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    id_attr = f' id="{esc(anchor)}"' if anchor else ""
    return (f'<figure{id_attr}><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")


def toc(entries: Sequence[tuple[str, str]]) -> str:
    """A table of contents: ``(anchor, title)`` pairs as links."""
    items = "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t in entries)
    return f'<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>{items}</ol></nav>'
