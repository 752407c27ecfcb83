"""Result tables and their LaTeX (booktabs), Markdown and CSV renderings, best bold and second underlined.

A ``Table`` has column groups (e.g. policies) each with the same columns (e.g. tasks), and rows of
``Cell``s (a mean over seeds, an optional spread, the number of runs averaged). Highlighting compares
means within each column (or each row, for ablations laid out by row).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field


@dataclass
class Cell:
    mean: float | None
    spread: float | None = None      # std (or CI half-width) over seeds
    n: int = 0
    runs: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.mean is None or (isinstance(self.mean, float) and math.isnan(self.mean))


@dataclass
class Table:
    name: str
    title: str
    groups: list[str]
    columns: list[str]
    rows: dict[str, list[Cell]]
    lower_is_better: bool = False
    highlight: str = "column"        # "column", "row" or "none"
    decimals: int = 2
    footnotes: list[str] = field(default_factory=list)

    @property
    def header(self) -> list[tuple[str, str]]:
        return [(g, c) for g in self.groups for c in self.columns]

    def marks(self) -> dict[tuple[str, int], str]:
        """{(row, column index): "best" | "second"} by mean; ties share a mark."""
        marks: dict[tuple[str, int], str] = {}
        names = list(self.rows)
        if self.highlight == "none" or len(names) < 2:
            return marks
        lines = ([[(r, j) for r in names] for j in range(len(self.header))] if self.highlight == "column"
                 else [[(r, j) for j in range(len(self.header))] for r in names])
        for line in lines:
            values = sorted({round(self.rows[r][j].mean, 10) for r, j in line if not self.rows[r][j].empty},
                            reverse=not self.lower_is_better)
            if len(values) < 2:
                continue
            for r, j in line:
                cell = self.rows[r][j]
                if cell.empty:
                    continue
                value = round(cell.mean, 10)
                if value == values[0]:
                    marks[(r, j)] = "best"
                elif value == values[1]:
                    marks[(r, j)] = "second"
        return marks

    def text(self, cell: Cell, spread: bool = True) -> str:
        if cell.empty:
            return "--"
        out = f"{cell.mean:.{self.decimals}f}"
        if spread and cell.spread is not None and cell.n > 1:
            out += f" ± {cell.spread:.{self.decimals}f}"
        return out


def _latex_escape(text: str) -> str:
    for old, new in (("\\", "\\textbackslash{}"), ("&", "\\&"), ("%", "\\%"), ("_", "\\_"), ("#", "\\#")):
        text = text.replace(old, new)
    return text


def to_latex(table: Table) -> str:
    marks = table.marks()
    spec = "l" + "".join("c" * len(table.columns) for _ in table.groups)
    lines = [f"% {table.title}", "\\begin{tabular}{" + spec + "}", "\\toprule"]
    if len(table.groups) > 1 or table.groups[0]:
        lines.append(" & ".join([""] + [f"\\multicolumn{{{len(table.columns)}}}{{c}}{{{_latex_escape(g)}}}" for g in table.groups]) + " \\\\")
        start = 2
        rules = []
        for _ in table.groups:
            rules.append(f"\\cmidrule(lr){{{start}-{start + len(table.columns) - 1}}}")
            start += len(table.columns)
        lines.append(" ".join(rules))
    lines.append(" & ".join(["Method"] + [_latex_escape(c) for _, c in table.header]) + " \\\\")
    lines.append("\\midrule")
    for row, cells in table.rows.items():
        parts = [_latex_escape(row)]
        for j, cell in enumerate(cells):
            value = table.text(cell).replace("±", "$\\pm$")
            mark = marks.get((row, j))
            if mark == "best":
                value = f"\\textbf{{{value}}}"
            elif mark == "second":
                value = f"\\underline{{{value}}}"
            parts.append(value)
        lines.append(" & ".join(parts) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    for note in table.footnotes:
        lines.append(f"% {note}")
    return "\n".join(lines) + "\n"


def to_markdown(table: Table) -> str:
    marks = table.marks()
    headers = ["Method"] + [f"{g} {c}".strip() if len(table.groups) > 1 or g else c for g, c in table.header]
    lines = [f"**{table.title}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row, cells in table.rows.items():
        values = []
        for j, cell in enumerate(cells):
            value = table.text(cell)
            mark = marks.get((row, j))
            values.append(f"**{value}**" if mark == "best" else f"<u>{value}</u>" if mark == "second" else value)
        lines.append("| " + " | ".join([row] + values) + " |")
    if table.footnotes:
        lines.append("")
        lines += [f"- {note}" for note in table.footnotes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["row", "group", "column", "mean", "spread", "n", "runs"])
    for row, cells in table.rows.items():
        for (group, column), cell in zip(table.header, cells):
            writer.writerow([row, group, column, "" if cell.empty else cell.mean,
                             "" if cell.spread is None else cell.spread, cell.n, ";".join(cell.runs)])
    return buffer.getvalue()
