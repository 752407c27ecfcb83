"""The paper's reported numbers (``paper_results.yaml``) as ``Table``s, and side-by-side comparisons."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from harness.report.tables import Cell, Table

PAPER_FILE = Path(__file__).with_name("paper_results.yaml")
ROW_HIGHLIGHT = {"alpha_ablation"}


@lru_cache(maxsize=1)
def paper_data() -> dict[str, Any]:
    return yaml.safe_load(PAPER_FILE.read_text())


def paper_table(name: str) -> Table:
    spec = paper_data()[name]
    width = len(spec["groups"]) * len(spec["columns"])
    rows = {}
    for row, values in spec["rows"].items():
        if len(values) != width:
            raise ValueError(f"{PAPER_FILE}: {name}.{row} has {len(values)} values, expected {width}")
        rows[row] = [Cell(float(v), None, 1) for v in values]
    return Table(name, spec["title"], list(spec["groups"]), list(spec["columns"]), rows,
                 lower_is_better=bool(spec.get("lower_is_better", False)),
                 highlight="row" if name in ROW_HIGHLIGHT else spec.get("highlight", "column"),
                 decimals=spec.get("decimals", 4 if spec.get("lower_is_better") else 2), stub=spec.get("stub", "Method"),
                 footnotes=["As reported in the paper / review discussion (not reproduced here)."])


def paper_table_names() -> list[str]:
    return list(paper_data())


def recomputed_average(table_name: str) -> dict[tuple[str, str], float]:
    """{(row, group): mean of the ``avg_of`` columns} from the transcribed numbers."""
    spec = paper_data()[table_name]
    columns, averaged = spec["columns"], spec["avg_of"]
    out = {}
    for row, values in spec["rows"].items():
        for g, group in enumerate(spec["groups"]):
            chunk = values[g * len(columns):(g + 1) * len(columns)]
            out[(row, group)] = sum(chunk[columns.index(c)] for c in averaged) / len(averaged)
    return out


def compare_with_paper(ours: Table, paper: Table) -> Table | None:
    """Ours, the paper's and their difference where groups, columns and rows match; None if nothing does."""
    shared_rows = [r for r in ours.rows if r in paper.rows]
    shared_header = [(g, c) for g, c in ours.header if (g, c) in paper.header]
    if not shared_rows or not shared_header:
        return None
    rows = {}
    for row in shared_rows:
        for label, source in (("ours", ours), ("paper", paper)):
            rows[f"{row} ({label})"] = [source.rows[row][source.header.index(h)] for h in shared_header]
        diffs = []
        for h in shared_header:
            a, b = ours.rows[row][ours.header.index(h)], paper.rows[row][paper.header.index(h)]
            diffs.append(Cell(None if a.empty or b.empty else a.mean - b.mean))
        rows[f"{row} (diff)"] = diffs
    groups = list(dict.fromkeys(g for g, _ in shared_header))
    columns = list(dict.fromkeys(c for _, c in shared_header))
    if len(shared_header) != len(groups) * len(columns):
        return None
    return Table(f"{ours.name}_vs_paper", f"{ours.title}: reproduced vs paper", groups, columns, rows, highlight="none")
