"""Selection diagnostics from runs that stored a profile (``harness.profile``): how well each selecting method
chose, step by step, and whether the bandit's feedback carries information about the RM it chose.

- ``selection_curves``: per (task, method row), the running selection accuracy (share of steps so far that used
  the batch category's most competent RM; for a router, each step counts the share of its prompts that did) and
  the cumulative regret (summed AUC gap; a router's step: the mean over its prompts), averaged over seeds;
  (``harness.report.figures.selection_figure`` draws both against the step, one line per method);
- ``signal_table``: per method, Spearman's correlation between the feedback each choice received (the MAB
  reward where the method has one, and the negative training loss for every method) and the chosen RM's
  on-policy AUC on that batch's category, pooled over seeds.
Reads JSON only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pandas as pd
from scipy.stats import spearmanr

from harness.common.files import read_json
from harness.common.selection_log import all_decisions, best_share
from harness.report.runs import selections
from harness.report.tables import Cell, Table
from harness.store.layout import PROFILE

RatedRun = tuple[pd.Series, list[dict[str, Any]], dict[str, Any]]


def rated_runs(frame: pd.DataFrame) -> list[RatedRun]:
    """Finished runs of selecting methods with a stored profile: (run, its selections, its profile), read once
    for both diagnostics."""
    done = frame[frame["finished"] & frame["selects"]]
    rated = []
    for _, run in done.iterrows():
        profile_file = Path(run["folder"]) / PROFILE
        steps = selections(run["folder"]) if profile_file.exists() else []
        if any(step.get("competence_gap") is not None for step in steps):
            rated.append((run, steps, read_json(profile_file)))
    return rated


def selection_curves(rated: list[RatedRun]) -> pd.DataFrame:
    """Long table (task, row, step, selection_accuracy, cumulative_regret, seeds): means over seeds by step."""
    records = []
    for run, steps, _ in rated:
        hits = regret = rated = 0
        for index, step in enumerate(steps):
            if step.get("competence_gap") is None:
                continue
            rated += 1
            hits += best_share(step)
            regret += step["competence_gap"]
            records.append((run["task"], run["row"], index + 1, hits / rated, regret, run["seed"]))
    long = pd.DataFrame(records, columns=["task", "row", "step", "selection_accuracy", "cumulative_regret", "seed"])
    if long.empty:
        return long.drop(columns="seed").assign(seeds=[])
    return (long.groupby(["task", "row", "step"])
            .agg(selection_accuracy=("selection_accuracy", "mean"), cumulative_regret=("cumulative_regret", "mean"),
                 seeds=("seed", "nunique"))
            .reset_index())


def _chosen_auc(step: dict[str, Any], profile: dict[str, Any]) -> float | None:
    category = profile["categories"].get(step.get("profile_category") or "")
    if category is None:
        return None
    return (category["reward_models"].get(step["reward_model"]) or {}).get("auc")


def _spearman(x: list[float], y: list[float]) -> tuple[float | None, float | None]:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return None, None
    result = spearmanr(x, y)
    return float(result.statistic), float(result.pvalue)


def run_group(run: pd.Series) -> dict[str, Any]:
    """What ``signal_rows`` pools by default: the run's task and method row."""
    return {"task": run["task"], "row": run["row"]}


def signal_rows(rated: list[RatedRun], group: Callable[[pd.Series], dict[str, Any]] = run_group) -> pd.DataFrame:
    """Per group of runs (default: task and method row): Spearman of the MAB reward and of -loss against the chosen
    RM's AUC, pooled over the group's runs (its seeds); the group's fields lead each row."""
    pooled: dict[tuple, dict[str, Any]] = {}
    for run, steps, profile in rated:
        fields = group(run)
        lists = pooled.setdefault(tuple(fields.items()), {"auc": [], "mab": [], "auc_mab": [], "neg_loss": []})
        for step in all_decisions(steps):  # a router's prompts each: its RM, its loss, its MAB reward
            auc = _chosen_auc(step, profile)
            if auc is None or step.get("loss") is None:
                continue
            lists["auc"].append(auc)
            lists["neg_loss"].append(-step["loss"])
            if step.get("mab_reward") is not None:
                lists["auc_mab"].append(auc)
                lists["mab"].append(step["mab_reward"])
    rows = []
    for key, lists in pooled.items():
        rho_mab, p_mab = _spearman(lists["mab"], lists["auc_mab"])
        rho_loss, p_loss = _spearman(lists["neg_loss"], lists["auc"])
        rows.append({**dict(key), "steps": len(lists["auc"]), "rho_mab_reward": rho_mab, "p_mab_reward": p_mab,
                     "rho_neg_loss": rho_loss, "p_neg_loss": p_loss})
    return pd.DataFrame(rows)


def signal_table(rated: list[RatedRun]) -> Table | None:
    signals = signal_rows(rated)
    if signals.empty:
        return None
    columns = ["rho (MAB reward)", "p", "rho (-loss)", "p "]
    rows = {}
    for record in signals.to_dict(orient="records"):
        rows[f"{record['row']} ({record['task']}, {record['steps']} choices)"] = [
            Cell(record["rho_mab_reward"], None, 1), Cell(record["p_mab_reward"], None, 1),
            Cell(record["rho_neg_loss"], None, 1), Cell(record["p_neg_loss"], None, 1)]
    return Table("bandit_signal", "Does the bandit's feedback carry information about the RM? Spearman's rho between "
                 "the feedback a choice received and the chosen RM's on-policy AUC on the batch's category", [""], columns, rows,
                 highlight="none", decimals=3,
                 footnotes=["Pooled over seeds; the MAB reward is the quantile-normalised negative loss the bandit was "
                            "updated with (by the methods that record one), -loss the raw training loss of the step; '--': no variation."])

