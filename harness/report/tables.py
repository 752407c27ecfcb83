"""Result tables and their LaTeX (booktabs, via pandas' Styler), Markdown and CSV renderings, best bold and
second underlined.

A ``Table`` has column groups (e.g. policies) each with the same columns (e.g. tasks), and rows of
``Cell``s (a mean over seeds, an optional spread, the number of runs averaged). Highlighting compares
means within each column (or each row, for ablations laid out by row).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd
from pandas.io.formats.style import Styler


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
    stub: str = "Method"             # heading of the row names' column
    formats: dict[str, str] = field(default_factory=dict)  # column -> format spec (e.g. ".0f", ".2g"), else decimals

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

    def text(self, cell: Cell, spread: bool = True, column: str = "") -> str:
        if cell.empty:
            return "--"
        spec = self.formats.get(column, f".{self.decimals}f")
        out = f"{cell.mean:{spec}}"
        if spread and cell.spread is not None and cell.n > 1:
            out += f" ± {cell.spread:{spec}}"
        return out


def text_frame(table: Table) -> pd.DataFrame:
    """The table's cell texts (mean ± spread, "--" when empty) with the row names as a first column (headed
    ``table.stub``); columns are (group, column) pairs when the table has named groups."""
    grouped = len(table.groups) > 1 or bool(table.groups[0])
    columns = (pd.MultiIndex.from_tuples([("", table.stub), *table.header]) if grouped
               else pd.Index([table.stub, *(c for _, c in table.header)]))
    rows = [[row, *(table.text(cell, column=column) for cell, (_, column) in zip(cells, table.header))]
            for row, cells in table.rows.items()]
    return pd.DataFrame(rows, columns=columns)


def marked(table: Table, styles: dict[str, str]) -> Styler:
    """The table's texts as a pandas Styler, each best / second cell styled with ``styles[mark]`` (a LaTeX
    command for the .tex, CSS for the HTML page), the index hidden."""
    texts = text_frame(table)
    cells = pd.DataFrame("", index=texts.index, columns=texts.columns)
    for (row, j), mark in table.marks().items():
        cells.iat[list(table.rows).index(row), j + 1] = styles[mark]
    return texts.style.apply(lambda _: cells, axis=None).hide(axis="index")


def to_latex(table: Table) -> str:
    """booktabs LaTeX through pandas' Styler: best ``\\textbf``, second ``\\underline``, ± as ``$\\pm$``."""
    styler = (marked(table, {"best": "textbf: --rwrap;", "second": "underline: --rwrap;"})
              .format(escape="latex").format_index(escape="latex", axis=1))
    body = styler.to_latex(hrules=True, column_format="l" + "c" * len(table.header), multicol_align="c")
    body = body.replace("±", "$\\pm$").rstrip("\n")
    if isinstance(styler.data.columns, pd.MultiIndex):  # a rule under each group's heading, as booktabs tables have
        width = len(table.columns)
        rules = " ".join(f"\\cmidrule(lr){{{2 + g * width}-{1 + (g + 1) * width}}}" for g in range(len(table.groups)))
        head, sep, rest = body.partition("\\\\\n")
        body = f"{head}{sep}{rules}\n{rest}" if "\\multicolumn" in head else body
    lines = [f"% {table.title}", body]
    lines += [f"% {note}" for note in table.footnotes]
    return "\n".join(lines) + "\n"


def to_markdown(table: Table) -> str:
    marks = table.marks()
    headers = [table.stub] + [f"{g} {c}".strip() if len(table.groups) > 1 or g else c for g, c in table.header]
    lines = [f"**{table.title}**", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row, cells in table.rows.items():
        values = []
        for j, (cell, (_, column)) in enumerate(zip(cells, table.header)):
            value = table.text(cell, column=column)
            mark = marks.get((row, j))
            values.append(f"**{value}**" if mark == "best" else f"<u>{value}</u>" if mark == "second" else value)
        lines.append("| " + " | ".join([row] + values) + " |")
    if table.footnotes:
        lines.append("")
        lines += [f"- {note}" for note in table.footnotes]
    return "\n".join(lines) + "\n"


def to_csv(table: Table) -> str:
    """One line per cell: row, group, column, mean, spread, n and the runs averaged."""
    records = [{"row": row, "group": group, "column": column, "mean": None if cell.empty else cell.mean,
                "spread": cell.spread, "n": cell.n, "runs": ";".join(cell.runs)}
               for row, cells in table.rows.items() for (group, column), cell in zip(table.header, cells)]
    return pd.DataFrame(records, columns=["row", "group", "column", "mean", "spread", "n", "runs"]).to_csv(index=False)
