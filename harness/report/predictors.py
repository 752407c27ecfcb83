"""Which profile statistic predicts a good teacher: over the (RM, category) cells of a stored profile
(``harness.profile``), Spearman's rho of each statistic (AUC, pairwise accuracy, normalised reward std, mean
margin) with the trained accuracy of that cell, the test accuracy on that category of the ``single_rm`` runs
with that RM (mean over seeds). One table per profile that has >= 3 such cells; none otherwise."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import ConstantInputWarning, spearmanr

from harness.common.files import read_json
from harness.common.selection_log import ALL_CATEGORIES
from harness.report.tables import Cell, Table
from harness.store.layout import PROFILE, safe_name

STATISTICS = {"AUC": "auc", "pairwise accuracy": "pairwise_accuracy", "reward std": "reward_std",
              "mean margin": "mean_margin"}
MIN_CELLS = 3


def _profile_key(folder: str) -> str | None:
    path = Path(folder) / PROFILE
    return read_json(path).get("key") if path.exists() else None


def _single_rm_runs(frame: pd.DataFrame, profile: dict[str, Any]) -> pd.DataFrame:
    """The finished runs of one fixed RM each (their reporting record's ``fixed_rm``: the single-RM rows) of the
    profile's task and policy that were measured against it (or against none)."""
    if "fixed_rm" not in frame:
        return frame.iloc[0:0]
    from_base = frame["start_suffix"].fillna("") == "" if "start_suffix" in frame else True  # the profile's policy
    runs = frame[frame["finished"] & (frame["fixed_rm"] != "") & from_base
                 & (frame["task"] == profile["task"]) & (frame["policy"] == profile.get("policy"))]
    measured = pd.Series([_profile_key(folder) in (None, profile.get("key")) for folder in runs["folder"]],
                         index=runs.index, dtype=bool)
    return runs[measured]


def predictor_cells(frame: pd.DataFrame, profile: dict[str, Any]) -> pd.DataFrame:
    """One row per (RM, category) with a trained accuracy (percent, mean over seeds): the RM, the category, that
    accuracy and each statistic of ``STATISTICS`` (None where the profile has none). The pooled category counts
    only for a profile without others, whose runs report one overall accuracy."""
    runs = _single_rm_runs(frame, profile)
    categories = [c for c in profile["categories"] if c != ALL_CATEGORIES] or [ALL_CATEGORIES]
    rows = []
    for rm, chunk in runs.groupby("fixed_rm"):
        for category in categories:
            column = "test_accuracy" if category == ALL_CATEGORIES else f"accuracy:{category}"
            accuracy = chunk[column].mean() if column in chunk else math.nan
            if math.isnan(accuracy):
                continue
            competence = profile["categories"][category]["reward_models"].get(rm) or {}
            rows.append({"rm": rm, "category": category, "accuracy": float(accuracy),
                         **{key: competence.get(key) for key in STATISTICS.values()}})
    return pd.DataFrame(rows, columns=["rm", "category", "accuracy", *STATISTICS.values()])


def spearman(cells: pd.DataFrame, statistic: str) -> tuple[int, float, float]:
    """(cells with the statistic, rho, p) of the statistic against the trained accuracy; NaN below 3 cells or where
    either is constant."""
    kept = cells[cells[statistic].notna()]
    if len(kept) < MIN_CELLS:
        return len(kept), math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConstantInputWarning)
        result = spearmanr(kept[statistic].astype(float), kept["accuracy"])
    return len(kept), float(result.statistic), float(result.pvalue)


def predictor_table(frame: pd.DataFrame, profile: dict[str, Any], name: str) -> Table | None:
    cells = predictor_cells(frame, profile)
    if len(cells) < MIN_CELLS:
        return None
    found = {label: spearman(cells, key) for label, key in STATISTICS.items()}
    defined = [label for label, (_, rho, _) in found.items() if not math.isnan(rho)]
    best = max(defined, key=lambda label: found[label][1], default=None)  # a tie: the first in STATISTICS
    verdict = (f"{best} predicts a good teacher best (rho = {found[best][1]:.2f})" if best
               else "no statistic has a rho over the cells")
    rows = {label: [Cell(float(n), None, 1), Cell(rho, None, 1), Cell(p, None, 1)] for label, (n, rho, p) in found.items()}
    notes = [f"Cells: the (RM, category) pairs with single_rm runs ({len(cells)}; n counts those where the profile has the "
             "statistic); trained accuracy: the runs' test accuracy on the category, mean over seeds.",
             "reward std: the within-prompt std of the RM's scores, averaged over the category's prompts; mean margin: "
             "score(chosen) - score(rejected) of the pairs the loop would build; both divided by the std of the RM's "
             "scores over all the profile's samples. Best: the highest rho (each statistic is expected to rise with "
             "the teacher's value); p is two-sided."]
    return Table(name, f"Profile statistics as predictors of trained accuracy, {profile['task']}: Spearman's rho over "
                       f"(RM, category) cells; {verdict}", [""], ["n", "rho", "p"], rows, highlight="none",
                 footnotes=notes, stub="Statistic", formats={"n": ".0f", "rho": ".3f", "p": ".3g"})


def predictor_tables(frame: pd.DataFrame, profiles: list[dict[str, Any]]) -> list[Table]:
    """A table for each of ``profiles`` with >= 3 cells, named ``profile_predictors_<task>`` (its key's start
    added where two profiles share a task)."""
    tables, names = [], set()
    for profile in profiles:
        name = f"profile_predictors_{safe_name(profile['task'])}"
        if name in names:
            name += f"_{str(profile.get('key', len(names)))[:8]}"
        table = predictor_table(frame, profile, name)
        if table is not None:
            names.add(name)
            tables.append(table)
    return tables
