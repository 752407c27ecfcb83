"""``python -m harness report``: the paper's tables, significance tests and figures from a run store.

Reads only JSON files written by runs (never imports torch or retrains). Writes, per table, ``.tex``
(booktabs, best bold and second underlined), ``.md`` and ``.csv``; ``wilcoxon.md``/``.csv``; the figures
as PDF and PNG; ``README.md`` listing every file; and, where our rows and columns match the paper's,
``<table>_vs_paper.*`` with the paper's numbers and the difference; ``table3.*``, the examples per split and
category beside the paper's (where runs recorded them); ``mcnemar.md``/``.csv``, exact
per-example tests where runs stored their predictions; where runs stored a profile, its tables (and, with
single-RM runs, ``profile_predictors_*``: which profile statistic predicts trained accuracy), the selection
diagnostics (``selection_vs_step_*``, ``bandit_signal``) and the testbed's calibration properties (``calibration.md``).
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Sequence

import pandas as pd

from harness.common.files import umask, unwritable_folder, write_json_atomic, write_text_atomic
from harness.config.errors import ConfigError
from harness.config.registry import NoArgs, Registry
from harness.report.calibration import calibration_json, calibration_markdown, calibration_report
from harness.report.data_stats import stored_split_counts, table3
from harness.report.diagnostics import rated_runs, selection_curves, signal_table
from harness.report.figures import all_figures, selection_figure, utilisation_by_category_figure, winrate_figure
from harness.report.html import write_index
from harness.report.layouts import build_tables, per_seed
from harness.report.open_tasks import (
    load_winrates,
    table2,
    utilisation_by_category,
    utilisation_markdown,
    winrate_tables,
    winrates_by_category,
)
from harness.report.paper import compare_with_paper, paper_table, paper_table_names
from harness.report.predictors import predictor_tables
from harness.report.profiles import profile_tables, stored_profiles
from harness.report.provenance import provenance_lines
from harness.report.regimes import write_regimes
from harness.report.runs import load_runs, store_roots
from harness.report.stats import per_example_tests, target_vs_baselines, wilcoxon_frame, wilcoxon_markdown
from harness.report.tables import Table, to_csv, to_latex, to_markdown
from harness.store.union import store_name

INCOMPLETE = "INCOMPLETE.md"  # written (and named in README.md) while some of the store's runs are unfinished
REPORT_MARKER = ".harness-report"  # a folder holding it holds only a report, so a new report may replace it whole


def stores_title(roots: list[Path]) -> str:
    """What a report is of: its store's name (its sweep's), or the names of the stores it merges; never where they
    lie, so a store moved or copied elsewhere reports bit for bit the same."""
    names = list(dict.fromkeys(store_name(root) for root in roots))
    return " + ".join(names) + (f" ({len(roots)} stores)" if len(roots) > 1 else "")


def write_table(table: Table, out: Path) -> list[Path]:
    paths = []
    for suffix, render in ((".tex", to_latex), (".md", to_markdown), (".csv", to_csv)):
        path = out / f"{table.name}{suffix}"
        write_text_atomic(path, render(table))
        paths.append(path)
    return paths


def write_report(stores: str | Path | Sequence[str | Path], out: str | Path, with_paper: bool = True,
                 targets: list[str] | None = None) -> list[Path]:
    """Write the report of one run store, or of the union of several (``harness.store.union``), to ``out``, all or
    nothing: it is built in a temporary folder beside ``out`` (figures included) and then published (``publish``),
    one writer at a time. ``targets``: the significance tests' target methods (labels or names; default: the
    sweep's ``report.target``). Nothing written depends on where the stores lie: a moved store reports the same."""
    roots, out = store_roots(stores), Path(out).resolve()
    frame = load_runs(roots, targets)  # a missing, unreadable or conflicting store (or --target) fails here, before anything is written
    problem = unwritable_folder(out)
    if problem:
        raise ConfigError(f"--out: {problem}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # a second report of the same folder waits for the first
        for pattern in (".{}.writing-*", ".{}.previous-*"):  # left by a writer killed mid-way (we hold the lock)
            for stale in out.parent.glob(pattern.format(glob.escape(out.name))):
                shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.writing-"))
        try:
            os.chmod(staging, 0o777 & ~umask())
            written = _write_report(frame, roots, staging, with_paper)
            (staging / REPORT_MARKER).write_text(f"written by harness from {stores_title(roots)}\n")
            publish(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return [out / path.relative_to(staging) for path in written]


def publish(staging: Path, out: Path) -> None:
    """Put a finished report in place. A folder that only ever held harness reports (or none) is swapped
    whole: renamed aside, the new one renamed in, the old one removed. A folder that holds other files too
    gets the report's files moved in one by one (each replace is atomic), never deleted."""
    if out.exists() and not (out / REPORT_MARKER).exists():
        complete = not (staging / INCOMPLETE).exists()
        for path in sorted(staging.rglob("*")):
            if path.is_file() and path.name != REPORT_MARKER:  # the folder is not the report's alone
                target = out / path.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(path, target)
        if complete:
            (out / INCOMPLETE).unlink(missing_ok=True)
        return
    previous = out.with_name(f".{out.name}.previous-{os.getpid()}") if out.exists() else None
    if previous is not None:
        os.replace(out, previous)
    os.replace(staging, out)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


@dataclass
class ReportContext:
    """What the report's sections are built from: the runs (``load_runs``'s frame), the store, the folder written
    to and whether tables are compared with the paper's; what several sections read, computed once; and what the
    sections leave for the README and the index: every table written and its comparison with the paper's."""

    frame: pd.DataFrame
    roots: list[Path]
    out: Path
    with_paper: bool = True
    tables: list[Table] = field(default_factory=list)
    paper_comparisons: dict[str, Table] = field(default_factory=dict)

    @cached_property
    def rated(self) -> list:
        return rated_runs(self.frame)

    @cached_property
    def winrates(self) -> pd.DataFrame:
        return load_winrates(self.roots)

    @cached_property
    def winrate_tables(self) -> list[Table]:
        return winrate_tables(self.frame, self.roots, self.winrates)

    @cached_property
    def calibration(self) -> dict:
        return calibration_report(self.frame)

    def write_tables(self, tables: list[Table | None]) -> list[Path]:
        """Each table as .tex/.md/.csv, followed by its comparison with the paper's where there is one; a None (a
        table the store has no data for) is skipped."""
        written: list[Path] = []
        for table in (table for table in tables if table is not None):
            self.tables.append(table)
            written += write_table(table, self.out)
            if self.with_paper and table.name in paper_table_names():
                comparison = compare_with_paper(table, paper_table(table.name))
                if comparison is not None:
                    written += write_table(comparison, self.out)
                    self.paper_comparisons[table.name] = comparison
        return written


class Section:
    """A part of the report: built from the ``ReportContext``, ``write`` writes its files (none when the store has
    nothing for it) and returns them in the order the README lists them."""

    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""

    @classmethod
    def from_config(cls, config: Any, context: ReportContext) -> Section:
        return cls(context)

    def __init__(self, context: ReportContext):
        self.context = context

    def write(self) -> list[Path]:
        raise NotImplementedError


class ResultsTables(Section):
    description = "the accuracy tables (paper Tables 1, 4, 6, 7; ablations, categories, selection, lm-eval), beside the paper's"

    def write(self):
        return self.context.write_tables(build_tables(self.context.frame))


class LongContextTable(Section):
    description = "best-of-n scores per LongBench category (paper Table 2)"

    def write(self):
        table = table2(self.context.frame)
        return self.context.write_tables([table])


class SplitsTable(Section):
    description = "examples per split and category, beside the paper's (paper Table 3)"

    def write(self):
        split_counts, split_notes = stored_split_counts(self.context.frame)
        return self.context.write_tables([table3(split_counts, self.context.with_paper, split_notes)] if split_counts else [])


class WinrateTables(Section):
    description = "win rates of the judged comparisons (paper Fig. 2 as tables), overall and per category"

    def write(self):
        context = self.context
        by_category = winrates_by_category(context.frame, context.roots, context.winrates)
        return context.write_tables([*context.winrate_tables, by_category])


class SelectionSignalTable(Section):
    description = "how the bandit's reward signal relates to the profiled competence of the chosen RM"

    def write(self):
        table = signal_table(self.context.rated)
        return self.context.write_tables([table])


class ProfileTables(Section):
    description = "each stored RM competence profile (AUC, pairwise accuracy, reward std, mean margin per category)"

    def write(self):
        frame = self.context.frame
        tables: list[Table] = []
        for profile in stored_profiles(frame.loc[frame["finished"], "folder"]):
            tables += profile_tables(profile, f"profile_{profile['task']}")
        return self.context.write_tables(tables)


class ProfilePredictors(Section):
    description = "which profile statistic predicts a single-RM run's accuracy: Spearman's rho over (RM, category) cells"

    def write(self):
        frame = self.context.frame
        profiles = stored_profiles(frame.loc[frame["finished"], "folder"])
        return self.context.write_tables(predictor_tables(frame, profiles))


class WilcoxonTests(Section):
    description = "one-sided Wilcoxon signed-rank tests of the target method against each baseline, paired by seed"

    def write(self):
        out, long = self.context.out, per_seed(self.context.frame)
        results = target_vs_baselines(long) if not long.empty else None
        if not results:
            return []
        write_text_atomic(out / "wilcoxon.md", wilcoxon_markdown(results))
        write_text_atomic(out / "wilcoxon.csv", wilcoxon_frame(results).to_csv(index=False))
        return [out / "wilcoxon.md", out / "wilcoxon.csv"]


class McNemarTests(Section):
    description = "exact one-sided McNemar tests, paired by example (runs that stored their predictions)"

    def write(self):
        out, mcnemar = self.context.out, per_example_tests(self.context.frame)
        if mcnemar.empty:
            return []
        write_text_atomic(out / "mcnemar.csv", mcnemar.to_csv(index=False))
        lines = ["**Exact one-sided McNemar tests (H1: the target is right more often), paired by example, pooled over seeds**", "",
                 "| task | policy | target | baseline | pairs | only target right | only baseline right | p |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r.task} | {r.group} | {r.target} | {r.baseline} | {r.pairs} | {r.only_target_right} | "
                  f"{r.only_baseline_right} | {r.p_value:.4g} |" for r in mcnemar.itertuples()]
        write_text_atomic(out / "mcnemar.md", "\n".join(lines) + "\n")
        return [out / "mcnemar.md", out / "mcnemar.csv"]


class Figures(Section):
    description = "the paper's figures: RM utilisation, accuracy vs time and noise, MAB rewards, RM agreement"

    def write(self):
        return all_figures(self.context.frame, self.context.out)


class SelectionCurves(Section):
    description = "running selection accuracy and regret against the step (runs with a profile)"

    def write(self):
        out, curves = self.context.out, selection_curves(self.context.rated)
        if curves.empty:
            return []
        write_text_atomic(out / "selection_vs_step.csv", curves.to_csv(index=False))
        return [out / "selection_vs_step.csv"] + selection_figure(curves, out)


class Regimes(Section):
    description = "methods against the regime (a world.* grid axis): accuracy, selection accuracy, the bandit signal"

    def write(self):
        return write_regimes(self.context.frame, self.context.rated, self.context.out)


class Calibration(Section):
    description = "the testbed's calibration properties (calibration.md / .json)"

    def write(self):
        out, calibration = self.context.out, self.context.calibration
        if not calibration:
            return []
        write_text_atomic(out / "calibration.md", calibration_markdown(calibration))
        write_json_atomic(out / "calibration.json", calibration_json(calibration))
        return [out / "calibration.md", out / "calibration.json"]


class UtilisationByCategory(Section):
    description = "RM utilisation per category of each selecting method (paper Figs. 6-7), table and figure"

    def write(self):
        out, shares = self.context.out, utilisation_by_category(self.context.frame)
        if shares.empty:
            return []
        write_text_atomic(out / "utilisation_by_category.md", utilisation_markdown(shares))
        write_text_atomic(out / "utilisation_by_category.csv", shares.to_csv(index=False))
        files = [out / "utilisation_by_category.md", out / "utilisation_by_category.csv"]
        return files + utilisation_by_category_figure(shares, out)


class WinrateFigure(Section):
    description = "model wins vs baseline wins per comparison and policy (paper Fig. 2)"

    def write(self):
        length_controlled = next((t for t in self.context.winrate_tables if t.name == "alpaca_eval"), None)
        return winrate_figure(length_controlled, self.context.out)


class IncompleteNote(Section):
    description = f"{INCOMPLETE}, naming the runs not finished when the report was written (none: not written)"

    def write(self):
        frame, out = self.context.frame, self.context.out
        finished, total = int(frame["finished"].sum()), len(frame)
        if finished == total:
            return []
        unfinished = sorted(frame.loc[~frame["finished"], "run_id"])
        write_text_atomic(out / INCOMPLETE, f"# This report is incomplete\n\n{total - finished} of {total} runs of "
                                            f"{stores_title(self.context.roots)} had not finished when it was written (failed, or still "
                                            "running elsewhere); rerun `python -m harness report` once they have:\n\n"
                                            + "".join(f"- {r}\n" for r in unfinished))
        return [out / INCOMPLETE]


# The report's sections, in the order they are written (and listed in README.md, which closes the report with
# index.html). A section is a ``Section`` subclass plus one line here (or ``REPORT_SECTIONS.register``).
REPORT_SECTIONS: Registry[type[Section]] = Registry("report section", {
    "results": "harness.report.write:ResultsTables",
    "long_context": "harness.report.write:LongContextTable",
    "splits": "harness.report.write:SplitsTable",
    "winrates": "harness.report.write:WinrateTables",
    "selection_signal": "harness.report.write:SelectionSignalTable",
    "profiles": "harness.report.write:ProfileTables",
    "profile_predictors": "harness.report.write:ProfilePredictors",
    "wilcoxon": "harness.report.write:WilcoxonTests",
    "mcnemar": "harness.report.write:McNemarTests",
    "figures": "harness.report.write:Figures",
    "selection_curves": "harness.report.write:SelectionCurves",
    "regimes": "harness.report.write:Regimes",
    "calibration": "harness.report.write:Calibration",
    "utilisation_by_category": "harness.report.write:UtilisationByCategory",
    "winrate_figure": "harness.report.write:WinrateFigure",
    "incomplete": "harness.report.write:IncompleteNote",
}, base=Section, context=ReportContext)


def _write_report(frame: pd.DataFrame, roots: list[Path], out: Path, with_paper: bool) -> list[Path]:
    context = ReportContext(frame, roots, out, with_paper)
    written: list[Path] = []
    for name in REPORT_SECTIONS.names(ordered=True):
        written += REPORT_SECTIONS.build(name, context=context).write()
    return written + _write_summary(context, written)


def _write_summary(context: ReportContext, written: list[Path]) -> list[Path]:
    """index.html and README.md: the status, provenance, calibration, every table and test, and every file."""
    frame, title, out = context.frame, f"Report for {stores_title(context.roots)}", context.out
    finished, total = int(frame["finished"].sum()), len(frame)
    status = f"{finished} of {total} runs finished."
    if finished < total:
        status += f" **Incomplete**: see {INCOMPLETE}."
    summary = [f"# {title}", "", status, ""] + provenance_lines(frame)
    calibration_text = calibration_markdown(context.calibration) if context.calibration else ""
    if calibration_text:
        summary += [calibration_text, ""]
    for table in context.tables:
        summary += [to_markdown(table), ""]
    if (out / "wilcoxon.md").exists():
        summary += [(out / "wilcoxon.md").read_text(), ""]
    if (out / "utilisation_by_category.md").exists():
        summary += [(out / "utilisation_by_category.md").read_text(), ""]
    tests = {name: (heading, out / f"{name}.csv") for name, heading in (
        ("wilcoxon", "One-sided Wilcoxon signed-rank tests, paired by seed"),
        ("mcnemar", "Exact one-sided McNemar tests, paired by example"),
        ("utilisation_by_category", "RM utilisation per category of each selecting method")) if (out / f"{name}.csv").exists()}
    index = write_index(out, title, status, calibration_text, context.tables, context.paper_comparisons, tests,
                        [path for path in written if path.suffix == ".png"],
                        "\n".join(line for line in provenance_lines(frame) if line))
    summary += ["Files:", ""] + [f"- {p.name}" for p in [*written, index]]
    write_text_atomic(out / "README.md", "\n".join(summary) + "\n")
    return [index, out / "README.md"]


def print_calibration(written: list[Path]) -> None:
    """The testbed's calibration check on the terminal, worth seeing without opening the report."""
    calibration = next((path for path in written if path.name == "calibration.md"), None)
    if calibration is not None:
        print(calibration.read_text().rstrip())


def write_paper_report(out: str | Path) -> list[Path]:
    """The paper's own tables, rendered from the transcribed numbers alone."""
    out = Path(out)
    problem = unwritable_folder(out)
    if problem:
        raise ConfigError(f"--out: {problem}")
    written: list[Path] = []
    for name in paper_table_names():
        written += write_table(paper_table(name), out)
    return written
