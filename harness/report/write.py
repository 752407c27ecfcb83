"""``python -m harness report``: the paper's tables, significance tests and figures from a run store.

Reads only JSON files written by runs (never imports torch or retrains). Writes, per table, ``.tex``
(booktabs, best bold and second underlined), ``.md`` and ``.csv``; ``wilcoxon.md``/``.csv``; the figures
as PDF and PNG; ``README.md`` listing every file; and, where our rows and columns match the paper's,
``<table>_vs_paper.*`` with the paper's numbers and the difference; ``table3.*``, the examples per split and
category beside the paper's (where runs recorded them); ``mcnemar.md``/``.csv``, exact
per-example tests where runs stored their predictions; where runs stored a profile, its tables, the selection
diagnostics (``selection_vs_step_*``, ``bandit_signal``) and the testbed's calibration properties (``calibration.md``).
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from harness.common.files import umask, unwritable_folder, write_json_atomic, write_text_atomic
from harness.config.errors import ConfigError
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
from harness.report.profiles import profile_tables, stored_profiles
from harness.report.provenance import provenance_lines
from harness.report.runs import load_runs
from harness.report.stats import per_example_tests, target_vs_baselines, wilcoxon_frame, wilcoxon_markdown
from harness.report.tables import Table, to_csv, to_latex, to_markdown

INCOMPLETE = "INCOMPLETE.md"  # written (and named in README.md) while some of the store's runs are unfinished
REPORT_MARKER = ".harness-report"  # a folder holding it holds only a report, so a new report may replace it whole


def write_table(table: Table, out: Path) -> list[Path]:
    paths = []
    for suffix, render in ((".tex", to_latex), (".md", to_markdown), (".csv", to_csv)):
        path = out / f"{table.name}{suffix}"
        write_text_atomic(path, render(table))
        paths.append(path)
    return paths


def write_report(root: str | Path, out: str | Path, with_paper: bool = True, targets: list[str] | None = None) -> list[Path]:
    """Write the report of run store ``root`` to ``out``, all or nothing: it is built in a temporary folder
    beside ``out`` (figures included) and then published (``publish``), one writer at a time. ``targets``: the
    significance tests' target methods (labels or names; default: the sweep's ``report.target``)."""
    root, out = Path(root), Path(out).resolve()
    frame = load_runs(root, targets)  # a missing or unreadable store (or --target) fails here, before anything is written
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
            written = _write_report(frame, root, staging, with_paper)
            (staging / REPORT_MARKER).write_text(f"written by harness from {root}\n")
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


def _write_report(frame: pd.DataFrame, root: Path, out: Path, with_paper: bool) -> list[Path]:
    written: list[Path] = []
    tables = build_tables(frame)
    long_context = table2(frame)
    if long_context is not None:
        tables.append(long_context)
    split_counts, split_notes = stored_split_counts(frame)
    if split_counts:
        tables.append(table3(split_counts, with_paper, split_notes))
    comparisons = load_winrates(root)
    winrate_tables_ = winrate_tables(frame, root, comparisons)
    tables += winrate_tables_
    by_category = winrates_by_category(frame, root, comparisons)
    if by_category is not None:
        tables.append(by_category)
    rated = rated_runs(frame)
    signals = signal_table(rated)
    if signals is not None:
        tables.append(signals)
    for profile in stored_profiles(frame.loc[frame["finished"], "folder"]):
        tables += profile_tables(profile, f"profile_{profile['task']}")
    comparisons: dict[str, Table] = {}
    for table in tables:
        written += write_table(table, out)
        if with_paper and table.name in paper_table_names():
            comparison = compare_with_paper(table, paper_table(table.name))
            if comparison is not None:
                written += write_table(comparison, out)
                comparisons[table.name] = comparison
    long = per_seed(frame)
    if not long.empty:
        results = target_vs_baselines(long)
        if results:
            write_text_atomic(out / "wilcoxon.md", wilcoxon_markdown(results))
            write_text_atomic(out / "wilcoxon.csv", wilcoxon_frame(results).to_csv(index=False))
            written += [out / "wilcoxon.md", out / "wilcoxon.csv"]
    mcnemar = per_example_tests(frame)
    if not mcnemar.empty:
        write_text_atomic(out / "mcnemar.csv", mcnemar.to_csv(index=False))
        lines = ["**Exact one-sided McNemar tests (H1: the target is right more often), paired by example, pooled over seeds**", "",
                 "| task | policy | target | baseline | pairs | only target right | only baseline right | p |",
                 "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {r.task} | {r.group} | {r.target} | {r.baseline} | {r.pairs} | {r.only_target_right} | "
                  f"{r.only_baseline_right} | {r.p_value:.4g} |" for r in mcnemar.itertuples()]
        write_text_atomic(out / "mcnemar.md", "\n".join(lines) + "\n")
        written += [out / "mcnemar.md", out / "mcnemar.csv"]
    written += all_figures(frame, out)
    curves = selection_curves(rated)
    if not curves.empty:
        write_text_atomic(out / "selection_vs_step.csv", curves.to_csv(index=False))
        written += [out / "selection_vs_step.csv"] + selection_figure(curves, out)
    calibration = calibration_report(frame)
    if calibration:
        write_text_atomic(out / "calibration.md", calibration_markdown(calibration))
        write_json_atomic(out / "calibration.json", calibration_json(calibration))
        written += [out / "calibration.md", out / "calibration.json"]
    shares = utilisation_by_category(frame)
    if not shares.empty:
        write_text_atomic(out / "utilisation_by_category.md", utilisation_markdown(shares))
        write_text_atomic(out / "utilisation_by_category.csv", shares.to_csv(index=False))
        written += [out / "utilisation_by_category.md", out / "utilisation_by_category.csv"]
        written += utilisation_by_category_figure(shares, out)
    lc = next((t for t in winrate_tables_ if t.name == "alpaca_eval"), None)
    written += winrate_figure(lc, out)
    finished, total = int(frame["finished"].sum()), len(frame)
    status = f"{finished} of {total} runs finished."
    if finished < total:
        unfinished = sorted(frame.loc[~frame["finished"], "run_id"])
        write_text_atomic(out / INCOMPLETE, f"# This report is incomplete\n\n{total - finished} of {total} runs of {root} had not "
                                  "finished when it was written (failed, or still running elsewhere); rerun "
                                  "`python -m harness report` once they have:\n\n" + "".join(f"- {r}\n" for r in unfinished))
        written.append(out / INCOMPLETE)
        status += f" **Incomplete**: see {INCOMPLETE}."
    summary = [f"# Report for {root}", "", status, ""] + provenance_lines(frame)
    calibration_text = calibration_markdown(calibration) if calibration else ""
    if calibration_text:
        summary += [calibration_text, ""]
    for table in tables:
        summary += [to_markdown(table), ""]
    if (out / "wilcoxon.md").exists():
        summary += [(out / "wilcoxon.md").read_text(), ""]
    if (out / "utilisation_by_category.md").exists():
        summary += [(out / "utilisation_by_category.md").read_text(), ""]
    tests = {name: (heading, out / f"{name}.csv") for name, heading in (
        ("wilcoxon", "One-sided Wilcoxon signed-rank tests, paired by seed"),
        ("mcnemar", "Exact one-sided McNemar tests, paired by example"),
        ("utilisation_by_category", "RM utilisation per category of each selecting method")) if (out / f"{name}.csv").exists()}
    index = write_index(out, f"Report for {root}", status, calibration_text, tables, comparisons, tests,
                        [path for path in written if path.suffix == ".png"],
                        "\n".join(line for line in provenance_lines(frame) if line))
    written.append(index)
    summary += ["Files:", ""] + [f"- {p.name}" for p in written]
    write_text_atomic(out / "README.md", "\n".join(summary) + "\n")
    return written + [out / "README.md"]


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
