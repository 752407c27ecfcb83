"""Tables of a run store laid out like the paper's: Table 1 (methods x tasks, with Avg.), Table 4 (each
single RM), Table 6 (loss x method), Table 7 (out of distribution), plus the per-seed data the
significance tests use."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from harness.report.methods import AVG_RM_RANK, AVG_RM_ROW, BEST_RM_RANK, BEST_RM_ROW
from harness.report.tables import Cell, Table

DISPLAY_TASKS = {"strategyqa": "StrategyQA", "gsm8k": "GSM8K", "mmlu": "MMLU", "commonsenseqa": "CSQA", "math": "MATH"}


PAPER_TASK_ORDER = ["strategyqa", "gsm8k", "mmlu", "wildchat", "longbench"]


def task_title(task: str) -> str:
    return DISPLAY_TASKS.get(task, task)


def task_order(task: str) -> tuple[int, str]:
    """Sort key of tasks: the paper's (reasoning, instruction following, long context), then by name."""
    return (PAPER_TASK_ORDER.index(task) if task in PAPER_TASK_ORDER else len(PAPER_TASK_ORDER), task)


def group_of(frame: pd.DataFrame) -> pd.Series:
    if "axis:policy" in frame:
        return frame["axis:policy"].fillna("").astype(str)
    return frame["policy"].fillna("").map(lambda p: str(p).rstrip("/").split("/")[-1]) if "policy" in frame else pd.Series("", index=frame.index)


def _axes_suffix(run: pd.Series, skip: Iterable[str]) -> str:
    parts = [f"{k[5:]}={run[k]}" for k in run.index if k.startswith("axis:") and k[5:] not in skip and pd.notna(run[k])]
    return f" @{','.join(parts)}" if parts else ""


LONG_COLUMNS = ["row", "group", "task", "seed", "value", "run_id", "rank", "fixed_rm", "target"]


def per_seed(frame: pd.DataFrame, value: str = "test_accuracy", skip_axes: Iterable[str] = ("policy",)) -> pd.DataFrame:
    """Long table (row, group, task, seed, value, run_id, rank, fixed_rm, target) with the Best RM and Avg. RM
    rows derived from the single-RM runs (``fixed_rm``: the run's one RM, '' for every other row)."""
    done = frame[frame["finished"]].copy()
    if done.empty or value not in done:
        return pd.DataFrame(columns=LONG_COLUMNS)
    done = done[done[value].notna()]
    done["group"] = group_of(done)
    skip = set(skip_axes) | {"train.start"}  # a run's start is in its row already (RunRow.start_suffix)
    done["suffix"] = [_axes_suffix(r, skip) for _, r in done.iterrows()]
    if "start_suffix" not in done:
        done["start_suffix"] = ""
    records = []
    for _, run in done.iterrows():
        identity = (run["group"], run["task"], run["seed"], run[value], run["run_id"])
        records.append((run["row"] + run["suffix"], *identity, run["rank"], run["fixed_rm"], bool(run["target"])))
        if run["fixed_rm"] and run["fixed_rm"] == run.get("best_rm"):
            records.append((BEST_RM_ROW + run["start_suffix"] + run["suffix"], *identity, BEST_RM_RANK, "", False))
    singles = done[done["fixed_rm"] != ""]
    for (start, suffix, group, task, seed), chunk in singles.groupby(["start_suffix", "suffix", "group", "task", "seed"]):
        records.append((AVG_RM_ROW + start + suffix, group, task, seed, chunk[value].mean(), ";".join(chunk["run_id"]),
                        AVG_RM_RANK, "", False))
    return pd.DataFrame(records, columns=LONG_COLUMNS)


def cell_of(values: pd.DataFrame) -> Cell:
    if values.empty:
        return Cell(None)
    data = values["value"].to_numpy(dtype=float)
    spread = float(np.std(data, ddof=1)) if len(data) > 1 else None
    return Cell(float(data.mean()), spread, len(data), sorted(";".join(values["run_id"]).split(";")))


def order_rows(long: pd.DataFrame) -> list[str]:
    """The long table's rows by the rank of their runs' reporting records, then by name."""
    ranks = long.groupby("row")["rank"].min()
    return sorted(ranks.index, key=lambda row: (ranks[row], row))


def method_table(long: pd.DataFrame, name: str, title: str, tasks: list[str], with_average: bool = True,
                 single_rm_rows: bool = False) -> Table | None:
    """Rows x (group, task) of mean ± std cells; the single-RM rows only (Table 4) or every other row."""
    long = long[(long["fixed_rm"] != "") == single_rm_rows]
    if long.empty:
        return None
    groups = sorted(long["group"].unique())
    columns = [task_title(t) for t in tasks] + (["Avg."] if with_average and len(tasks) > 1 else [])
    rows, footnotes = {}, []
    for row in order_rows(long):
        cells = []
        for group in groups:
            subset = long[(long["row"] == row) & (long["group"] == group)]
            task_cells = [cell_of(subset[subset["task"] == task]) for task in tasks]
            cells += task_cells
            if len(columns) > len(tasks):
                present = [c.mean for c in task_cells if not c.empty]
                cells.append(Cell(float(np.mean(present)) if len(present) == len(tasks) else None, None, 1))
        rows[row] = cells
    if any(c.empty for cells in rows.values() for c in cells):
        footnotes.append("--: no finished run for this cell (yet).")
    seeds = sorted(long["seed"].dropna().unique().tolist())
    footnotes.append(f"Mean ± std over seeds {seeds}; Avg. averages the task means. Best bold, second underlined.")
    if (long["row"] == AVG_RM_ROW).any():
        footnotes.append("Avg. RM: mean over the single-RM runs of each seed. Best RM: the single-RM run of the configured best_rm.")
    return Table(name, title, groups, columns, rows, footnotes=footnotes)


# grid axes with a table of their own: table name, title, and the row of (axis value, the method's row); a loss
# is in capitals as in the paper's Table 6
AXIS_TABLES = {
    "train.loss": ("table6", "Loss functions x methods (layout of paper Table 6)",
                   lambda value, row: f"{str(value).upper()} / {row}"),
    "method.args.alpha": ("alpha_ablation", "LinUCB exploration alpha x methods (review discussion's alpha ablation)",
                          lambda value, row: f"alpha {value} / {row}"),
    "policy.embedding": ("embedding_ablation", "Context embedding x methods (review discussion's embedding ablation)",
                         lambda value, row: f"{row} ({value})"),
}


def build_tables(frame: pd.DataFrame) -> list[Table]:
    tables = []
    train_tasks = [t for t in ["strategyqa", "gsm8k", "mmlu"] if t in set(frame["task"])]
    other_tasks = sorted(set(frame["task"].dropna()) - set(train_tasks))
    tasks = train_tasks + other_tasks
    long = per_seed(frame)
    if not long.empty:
        table = method_table(long, "table1", "Accuracy on the training tasks (layout of paper Table 1)", tasks)
        if table:
            tables.append(table)
        singles = method_table(long, "table4", "Each single reward model (layout of paper Table 4)", tasks,
                               with_average=False, single_rm_rows=True)
        if singles:
            tables.append(singles)
    for axis, (name, title, row_name) in AXIS_TABLES.items():  # a grid axis: one row per (value, method)
        if f"axis:{axis}" not in frame:
            continue
        by_value = per_seed(frame, skip_axes=("policy", axis))
        if by_value.empty:
            continue
        values = frame[frame["finished"]].set_index("run_id")[f"axis:{axis}"].to_dict()
        by_value["row"] = [row_name(values.get(rid.split(";")[0], ""), row) for rid, row in zip(by_value["run_id"], by_value["row"])]
        table = method_table(by_value, name, title, tasks)
        if table:
            tables.append(table)
    for task in tasks:  # mixed-category tasks: each category's accuracy beside the overall one
        columns = sorted(c for c in frame.columns if c.startswith("accuracy:") and frame.loc[frame["task"] == task, c].notna().any())
        if not columns:
            continue
        parts = []
        for column, title in [(c, c.split(":", 1)[1]) for c in columns] + [("test_accuracy", "All")]:
            part = per_seed(frame[frame["task"] == task], value=column)
            part["task"] = title
            parts.append(part)
        table = method_table(pd.concat(parts), f"categories_{task}", f"Accuracy per prompt category on {task_title(task)}",
                             [c.split(":", 1)[1] for c in columns] + ["All"], with_average=False)
        if table:
            tables.append(table)
    for column, name, title, lower in (
            ("selection:selection_accuracy", "selection_accuracy",
             "Selection accuracy: share of steps that used the batch category's most competent RM (by the profile)", False),
            ("selection:mean_regret", "selection_regret",
             "Mean regret per step: the profile's AUC of the category's best RM minus that of the RM chosen", True)):
        if column in frame:
            values = per_seed(frame, value=column)
            values = values[~values["row"].isin([AVG_RM_ROW])]
            table = method_table(values, name, title, tasks, with_average=False) if not values.empty else None
            if table:
                table.lower_is_better = lower
                tables.append(table)
    lm_eval_columns = sorted(c for c in frame.columns if c.startswith("lm_eval:"))
    if lm_eval_columns:  # lm-eval's accuracy of each run's final policy beside the harness's own
        evaluated = frame[frame[lm_eval_columns].notna().any(axis=1)]
        columns = [("test_accuracy", "harness eval")] + [(c, "lm-eval " + c.split(":", 1)[1]) for c in lm_eval_columns]
        parts = [per_seed(evaluated, value=column).assign(task=title) for column, title in columns]
        table = method_table(pd.concat(parts), "lm_eval", "lm-eval accuracy of each run's final policy (python -m harness "
                             "lm-eval) beside the harness's own test accuracy", [title for _, title in columns],
                             with_average=False)
        if table:
            tables.append(table)
    ood_columns = sorted(c for c in frame.columns if c.startswith("ood:"))
    if ood_columns:
        parts = []
        for column in ood_columns:
            part = per_seed(frame, value=column)
            part["task"] = column[4:]
            parts.append(part)
        ood = pd.concat(parts) if parts else pd.DataFrame()
        if not ood.empty:
            table = method_table(ood, "table7", "Out-of-distribution accuracy (layout of paper Table 7)", [c[4:] for c in ood_columns])
            if table:
                tables.append(table)
    return tables
