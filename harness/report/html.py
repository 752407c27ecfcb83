"""``index.html``: the whole report in one self-contained page (no server, no internet, no request outside it):
a contents list, the calibration check, every table (best bold, second underlined, as in the .tex) with the
paper's numbers beside ours where they exist, the significance tests, and every figure (embedded as PNG data,
each linked to its PDF and its numbers' CSV), each with links to the files it came from.
"""

from __future__ import annotations

import base64
import hashlib
import html
from pathlib import Path

import pandas as pd

from harness.common.files import write_text_atomic
from harness.report.tables import Table, marked

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 78rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .6rem 0; font-size: .85rem; }
th, td { border-bottom: 1px solid #e4e4e4; padding: .25rem .6rem; text-align: center; }
td:first-child, th:first-child { text-align: left; }
.files { font-size: .8rem; color: #555; } .note { font-size: .8rem; color: #555; margin: .1rem 0; }
img { max-width: 100%; border: 1px solid #eee; } .warning { background: #fff3cd; padding: .5rem; }
pre { white-space: pre-wrap; font-size: .8rem; }
nav ul { columns: 3; font-size: .85rem; }
"""
CSS = {"best": "font-weight: bold;", "second": "text-decoration: underline;"}


def table_html(table: Table) -> str:
    """The table with the marks the .tex gets (bold best, underlined second)."""
    styled = marked(table, CSS)
    # the element ids pandas derives from its uuid (random by default) are made from the table, so the same store
    # gives the same page byte for byte
    styled.set_uuid(hashlib.sha256(f"{table.name}\n{styled.data.to_csv()}".encode()).hexdigest()[:10])
    return f'<div id="table-{html.escape(table.name)}">{styled.to_html(table_attributes="class=result")}</div>'


def frame_html(frame: pd.DataFrame, name: str) -> str:
    rendered = frame.to_html(index=False, na_rep="--", float_format=lambda v: f"{v:.4g}", classes="result", border=0)
    return f'<div id="table-{html.escape(name)}">{rendered}</div>'



def _links(out: Path, stem: str, suffixes: tuple[str, ...]) -> str:
    present = [f'<a href="{html.escape(stem + s)}">{html.escape(stem + s)}</a>' for s in suffixes if (out / f"{stem}{s}").exists()]
    return f'<p class="files">files: {", ".join(present)}</p>' if present else ""


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{html.escape(anchor)}"><h2>{html.escape(title)}</h2>\n{body}\n</section>'


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def write_index(out: Path, title: str, status: str, calibration: str, tables: list[Table],
                comparisons: dict[str, Table], tests: dict[str, tuple[str, Path]], figures: list[Path],
                provenance: str = "") -> Path:
    """Write ``out/index.html``. ``status``: how many runs finished (flagged when the report is incomplete);
    ``provenance``: the machine(s) the runs were measured on (flagged when they are several);
    ``comparisons``: a table's ``_vs_paper`` twin by table name; ``tests``: a heading and the CSV of each
    significance test; ``figures``: the PNGs written."""
    sections, contents = [], []

    def add(anchor: str, heading: str, body: str) -> None:
        sections.append(_section(anchor, heading, body))
        contents.append(f'<li><a href="#{html.escape(anchor)}">{html.escape(heading)}</a></li>')

    if calibration:
        add("calibration", "Testbed calibration", f"<pre>{html.escape(calibration)}</pre>"
            + _links(out, "calibration", (".md", ".json")))
    for table in tables:
        body = table_html(table) + "".join(f'<p class="note">{html.escape(note)}</p>' for note in table.footnotes)
        body += _links(out, table.name, (".tex", ".md", ".csv"))
        twin = comparisons.get(table.name)
        if twin is not None:
            body += f"<h3>{html.escape(twin.title)}</h3>" + table_html(twin) + _links(out, twin.name, (".tex", ".md", ".csv"))
        add(table.name, table.title, body)
    for name, (heading, csv) in tests.items():
        add(name, heading, frame_html(pd.read_csv(csv), name) + _links(out, name, (".md", ".csv")))
    for png in figures:
        add(png.stem, png.stem.replace("_", " "), _image(png, png.stem) + _links(out, png.stem, (".pdf", ".png", ".csv")))
    page = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
            '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; style-src \'unsafe-inline\'">',
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
            f"<h1>{html.escape(title)}</h1>"]
    page.append(f'<p class="{"warning" if "Incomplete" in status else "note"}">{html.escape(status)}</p>')
    if provenance:
        mixed = not provenance.startswith("Measured on:")
        page.append(f'<p class="{"warning" if mixed else "note"}">{html.escape(provenance).replace(chr(10), "<br>")}</p>')
    page += ["<nav><ul>", *contents, "</ul></nav>", *sections, "</body></html>"]
    path = out / "index.html"
    write_text_atomic(path, "\n".join(page) + "\n")
    return path
