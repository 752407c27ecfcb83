"""The paper's figures from a run store (matplotlib, PDF and PNG): RM utilisation (figs. 6-7), accuracy
against training time (fig. 4), accuracy against reward noise (fig. 3), RM agreement F1 per task (fig. 5) and the
normalised MAB reward over training; selection accuracy and cumulative regret against the step."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.common.files import read_jsonl, write_text_atomic  # noqa: E402
from harness.common.selection_log import all_decisions  # noqa: E402
from harness.report.layouts import group_of, per_seed, task_order, task_title  # noqa: E402
from harness.report.open_tasks import category_title, mean_shares, sorted_categories  # noqa: E402
from harness.report.runs import selections  # noqa: E402
from harness.store.layout import RM_SCORES  # noqa: E402


def save_figure(fig, out: Path, name: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.pdf", out / f"{name}.png"]
    fig.tight_layout()
    for path in paths:  # no creation date in the PDF: the same results give the same file
        fig.savefig(path, dpi=150, metadata={"CreationDate": None} if path.suffix == ".pdf" else None)
    plt.close(fig)
    return paths


def panel_grid(count: int, width: float, height: float, columns: int = 3):
    """A figure of ``count`` panels, at most ``columns`` per line; the axes in reading order (spare ones hidden)."""
    columns = min(columns, count)
    lines = -(-count // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(width * columns, height * lines), squeeze=False)
    flat = list(axes.flat)
    for spare in flat[count:]:
        spare.set_visible(False)
    return fig, flat[:count]


def selecting_runs(frame: pd.DataFrame) -> pd.DataFrame:
    """Finished runs of methods whose choice varies from batch to batch (their reporting record's ``fixed_choice`` false)."""
    return frame[frame["finished"] & frame["selects"]]


def save_data(data: pd.DataFrame, out: Path, name: str) -> list[Path]:
    """A figure's plotted numbers beside it, as CSV (to redraw it elsewhere, or to check what it shows)."""
    path = out / f"{name}.csv"
    write_text_atomic(path, data.to_csv(index=False))
    return [path]


def utilisation(frame: pd.DataFrame, out: Path) -> list[Path]:
    """Each selecting method's share of steps per RM, per task and policy, mean over seeds (paper Figs. 6-7)."""
    records = []
    runs = selecting_runs(frame)
    for index, run in runs.iterrows():
        counts = run["selection_counts"] or {}
        total = sum(counts.values())
        if total:
            group = group_of(runs.loc[[index]]).iloc[0]
            records += [(run["task"], group, run["row"], run["rank"], run["seed"], rm, 100.0 * count / total)
                        for rm, count in counts.items()]
    if not records:
        return []
    keys = ["task", "group", "row", "rank"]
    shares = (mean_shares(pd.DataFrame(records, columns=keys + ["seed", "reward_model", "share"]), keys)
              .sort_values(["task", "group", "rank", "row", "reward_model"]))
    bars = list(dict.fromkeys(zip(shares["task"], shares["group"], shares["row"])))
    rms = sorted(shares["reward_model"].unique())
    width = 0.8 / len(rms)
    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(bars)), 3.8))
    x = np.arange(len(bars))
    for i, rm in enumerate(rms):
        values = shares[shares["reward_model"] == rm].set_index(["task", "group", "row"])["share"]
        ax.bar(x + (i - (len(rms) - 1) / 2) * width, [values.get(bar, 0.0) for bar in bars], width, label=rm)
    ax.set_xticks(x, [f"{row}\n{task_title(task)} {group}".strip() for task, group, row in bars], fontsize=7)
    ax.set_ylabel("utilisation (% of steps)")
    ax.set_title("RM utilisation of each selecting method (mean over seeds)", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, out, "fig_utilisation") + save_data(shares.drop(columns="rank"), out, "fig_utilisation")


def accuracy_vs_time(frame: pd.DataFrame, out: Path) -> list[Path]:
    done = frame[frame["finished"]]
    if done.empty or "train_seconds" not in done or "test_accuracy" not in done:
        return []
    done = done[done["test_accuracy"].notna()]
    done = done.assign(group=group_of(done))
    points = (done.groupby(["task", "group", "row"])
              .agg(train_seconds=("train_seconds", "mean"), test_accuracy=("test_accuracy", "mean"), seeds=("seed", "nunique"))
              .reset_index())
    panels = sorted(done.groupby(["task", "group"]).groups)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, (task, group) in zip(axes[0], panels):
        chunk = points[(points["task"] == task) & (points["group"] == group)].set_index("row")
        for row, values in chunk.iterrows():
            ax.scatter(values["train_seconds"], values["test_accuracy"], s=30)
            ax.annotate(row, (values["train_seconds"], values["test_accuracy"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel("wall-clock training time (s)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{task_title(task)} {group}".strip(), fontsize=9)
    return save_figure(fig, out, "fig_accuracy_vs_time") + save_data(points, out, "fig_accuracy_vs_time")


def accuracy_vs_noise(frame: pd.DataFrame, out: Path) -> list[Path]:
    axes_cols = [c for c in frame.columns if c.startswith("axis:") and "sigma" in c]
    if not axes_cols:
        return []
    column = axes_cols[0]
    long = per_seed(frame, skip_axes=("policy", column[5:]))
    done = frame[frame["finished"]].set_index("run_id")
    long = long[long["run_id"].map(lambda r: r.split(";")[0] in done.index)]
    long["sigma"] = long["run_id"].map(lambda r: done.loc[r.split(";")[0], column])
    points = (long.groupby(["row", "sigma"]).agg(test_accuracy=("value", "mean"), seeds=("seed", "nunique"))
              .reset_index().sort_values(["row", "sigma"]))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for row, line in points.groupby("row"):
        ax.plot(line["sigma"].astype(float), line["test_accuracy"], marker="o", label=row)
    ax.set_xlabel("reward noise sigma")
    ax.set_ylabel("test accuracy (%)")
    ax.legend(fontsize=7)
    return save_figure(fig, out, "fig_accuracy_vs_noise") + save_data(points, out, "fig_accuracy_vs_noise")


def mab_reward(frame: pd.DataFrame, out: Path) -> list[Path]:
    """The reward each RM's arm received, against the times it was chosen, mean over seeds: one panel per (task,
    method) for every selecting method that records one (``mab_reward`` in its step records; LASeR's is the
    quantile-normalised negative loss)."""
    records = []
    for _, run in selecting_runs(frame).iterrows():
        steps = all_decisions(selections(run["folder"]))  # a router's prompts each have their own
        for rm in sorted({s["reward_model"] for s in steps}):
            series = [s["mab_reward"] for s in steps if s["reward_model"] == rm and s.get("mab_reward") is not None]
            records += [(task_title(run["task"]), run["row"], run["rank"], rm, run["seed"], i + 1, value)
                        for i, value in enumerate(series)]
    if not records:
        return []
    long = pd.DataFrame(records, columns=["task", "row", "rank", "reward_model", "seed", "times_chosen", "mab_reward"])
    curves = (long.groupby(["task", "row", "rank", "reward_model", "times_chosen"])
              .agg(mab_reward=("mab_reward", "mean"), seeds=("seed", "nunique")).reset_index()
              .sort_values(["task", "rank", "row", "reward_model", "times_chosen"]))
    panels = list(dict.fromkeys(zip(curves["task"], curves["row"])))
    fig, axes = panel_grid(len(panels), 4.2, 3.4)
    for ax, (task, row) in zip(axes, panels):
        for rm, line in curves[(curves["task"] == task) & (curves["row"] == row)].groupby("reward_model"):
            window = max(1, len(line) // 10)
            smooth = np.convolve(line["mab_reward"].to_numpy(), np.ones(window) / window, mode="valid")
            ax.plot(np.arange(1, len(smooth) + 1), smooth, label=rm)
        ax.set_title(f"{row}: {task}", fontsize=9)
        ax.set_xlabel("times the RM was selected")
        ax.set_ylabel("MAB reward (moving mean)")
        ax.legend(fontsize=7)
    return save_figure(fig, out, "fig_mab_reward") + save_data(curves.drop(columns="rank"), out, "fig_mab_reward")


def pairwise_agreement_f1(first: np.ndarray, second: np.ndarray, num_samples: int) -> tuple[int, int, int]:
    """(TP, FP, FN) of RM ``second`` predicting RM ``first``'s strict preferences over ordered response pairs
    of the same prompt (pairs either RM ties are left out)."""
    tp = fp = fn = 0
    for a, b in zip(first.reshape(-1, num_samples), second.reshape(-1, num_samples)):
        da, db = a[:, None] - a[None, :], b[:, None] - b[None, :]
        valid = (da != 0) & (db != 0)
        tp += int(((da > 0) & (db > 0) & valid).sum())
        fp += int(((da < 0) & (db > 0) & valid).sum())
        fn += int(((da > 0) & (db < 0) & valid).sum())
    return tp, fp, fn


def agreement_counts(folders: Iterable[str]) -> dict[tuple[str, str], np.ndarray]:
    """{(RM a, RM b): [TP, FP, FN] of b predicting a's preferences} summed over the runs' ``rm_scores.jsonl``."""
    counts: dict[tuple[str, str], np.ndarray] = {}
    for folder in folders:
        for record in read_jsonl(Path(folder) / RM_SCORES):
            scores = {name: np.asarray(values) for name, values in record["scores"].items()}
            for a in scores:
                for b in scores:
                    counts.setdefault((a, b), np.zeros(3))
                    counts[(a, b)] += pairwise_agreement_f1(scores[a], scores[b], record["num_samples"])
    return counts


def rm_agreement(frame: pd.DataFrame, out: Path) -> list[Path]:
    """F1 agreement of every two RMs' preferences on the same responses, one panel per task (paper fig. 5: MMLU
    and WildChat), pooled over the task's runs that stored per-response scores of several RMs (``rm_scores.jsonl``:
    the offline ensemble's, say); the matrices beside it as data (task, rm_a, rm_b, tp, fp, fn, f1)."""
    done = frame[frame["finished"]]
    by_task = {task: agreement_counts(done.loc[done["task"] == task, "folder"])
               for task in sorted(done["task"].dropna().unique(), key=task_order)}
    by_task = {task: counts for task, counts in by_task.items() if counts}
    if not by_task:
        return []
    records = []
    size = max(len({a for a, _ in counts}) for counts in by_task.values())
    fig, axes = panel_grid(len(by_task), 1.2 * size + 2, 1.1 * size + 1.5, columns=2)
    for ax, (task, counts) in zip(axes, by_task.items()):
        names = sorted({a for a, _ in counts})
        matrix = np.array([[2 * counts[(a, b)][0] / max(1.0, 2 * counts[(a, b)][0] + counts[(a, b)][1] + counts[(a, b)][2])
                            for b in names] for a in names])
        records += [(task, a, b, *(int(v) for v in counts[(a, b)]), matrix[i, j])
                    for i, a in enumerate(names) for j, b in enumerate(names)]
        image = ax.imshow(matrix, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] < 0.6 else "black")
        ax.set_title(f"{task_title(task)}: RM agreement (F1 of pairwise preferences)", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046)
    data = pd.DataFrame(records, columns=["task", "rm_a", "rm_b", "tp", "fp", "fn", "f1"])
    return save_figure(fig, out, "fig_rm_agreement") + save_data(data, out, "fig_rm_agreement")


def utilisation_by_category_figure(shares: pd.DataFrame, out: Path) -> list[Path]:
    """Grouped bars per category, one panel per (task, policy, selecting method) (paper Figs. 6-7)."""
    if shares.empty:
        return []
    panels = sorted(shares.groupby(["task", "policy", "row"]).groups)
    fig, axes = panel_grid(len(panels), 5.5, 3.6, columns=2)
    for ax, (task, policy, row) in zip(axes, panels):
        chunk = shares[(shares["task"] == task) & (shares["policy"] == policy) & (shares["row"] == row)]
        categories = sorted_categories(chunk["category"].unique())
        rms = sorted(chunk["reward_model"].unique())
        width = 0.8 / len(rms)
        x = np.arange(len(categories))
        for i, rm in enumerate(rms):
            values = [chunk[(chunk["category"] == c) & (chunk["reward_model"] == rm)]["share"].sum() for c in categories]
            ax.bar(x + (i - (len(rms) - 1) / 2) * width, values, width, label=rm)
        ax.set_xticks(x, [category_title(c) for c in categories], fontsize=7)
        ax.set_ylabel("utilisation (%)")
        ax.set_title(f"{row} on {task} {policy}".strip(), fontsize=9)
        ax.legend(fontsize=6)
    return save_figure(fig, out, "fig_utilisation_by_category")


def winrate_figure(table, out: Path) -> list[Path]:
    """Stacked bars of model wins / baseline wins per comparison and policy (paper Fig. 2)."""
    if table is None or not table.rows:
        return []
    fig, ax = plt.subplots(figsize=(6.5, 0.9 + 0.55 * len(table.rows) * len(table.groups)))
    labels, y = [], 0
    for group_index, group in enumerate(table.groups):
        for policy, cells in table.rows.items():
            wins = cells[2 * group_index].mean
            if wins is None:
                continue
            ax.barh(y, wins, color="#1f77b4")
            ax.barh(y, 100 - wins, left=wins, color="#ff7f0e")
            ax.text(wins / 2, y, f"{wins:.1f}%", ha="center", va="center", fontsize=7, color="white")
            ax.text(wins + (100 - wins) / 2, y, f"{100 - wins:.1f}%", ha="center", va="center", fontsize=7)
            labels.append(f"{group} ({policy})")
            y += 1
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlim(0, 100)
    ax.set_xlabel("length-controlled win rate (%): model (blue) vs. baseline (orange)")
    return save_figure(fig, out, "fig_winrates")


def all_figures(frame: pd.DataFrame, out: Path) -> list[Path]:
    written = []
    for figure in (utilisation, accuracy_vs_time, accuracy_vs_noise, mab_reward, rm_agreement):
        written += figure(frame, out)
    return written


def selection_figure(curves: pd.DataFrame, out: Path) -> list[Path]:
    """One figure per task: running selection accuracy and cumulative regret against the step."""
    written: list[Path] = []
    for task, chunk in curves.groupby("task"):
        fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
        for row, line in chunk.groupby("row"):
            left.plot(line["step"], 100 * line["selection_accuracy"], label=row)
            right.plot(line["step"], line["cumulative_regret"], label=row)
        left.set_xlabel("bandit step")
        left.set_ylabel("selection accuracy so far (%)")
        right.set_xlabel("bandit step")
        right.set_ylabel("cumulative regret (AUC)")
        left.set_title(f"{task}: choosing the category's best RM", fontsize=9)
        right.set_title(f"{task}: summed competence gap (mean over seeds)", fontsize=9)
        right.legend(fontsize=7)
        written += save_figure(fig, out, f"selection_vs_step_{task}")
    return written
