"""Does the testbed discriminate? The calibration properties of a mixed-category task, checked on a run store.

For a task whose runs report per-category accuracy and stored an on-policy profile (``harness.profile``), with
the starting policy's, the gold reward's and single-RM rows present (the runs whose reporting record's ``role`` is
``start`` and ``gold``, and those with a ``fixed_rm``), the properties are (means over seeds):

1. the correctness reward beats the start (Base) by >= 10 points in every category (the loop can learn from a perfect reward);
2. in every category the most competent RM by on-policy AUC beats Base by >= 5 points, and every RM with
   AUC < 0.5 ends below Base (competence as measured predicts training value at both ends);
3. the most competent RM differs between categories, and no single RM is within 3 points of the oracle on the
   average over categories (choosing matters); the oracle is the ``oracle`` role's row (``oracle_rm``) where
   present, else the best-AUC RM's run per category;
4. Spearman's rho between on-policy AUC and trained accuracy over all (RM, category) cells is >= 0.7.

These calibrate the instrument, not any selection method: no property mentions LASeR or another selector.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from harness.common.files import read_json
from harness.store.layout import PROFILE

GOLD_GAIN, BEST_RM_GAIN, ORACLE_MARGIN, MIN_SPEARMAN = 10.0, 5.0, 3.0, 0.7


@dataclass
class Property:
    text: str
    holds: bool
    detail: str


def _category_means(runs: pd.DataFrame, categories: list[str]) -> dict[str, float]:
    return {c: float(runs[f"accuracy:{c}"].mean()) for c in categories}


def check_task(frame: pd.DataFrame, task: str) -> list[Property] | None:
    """The four properties on one task, or None when the task lacks categories, a profile or the needed rows."""
    runs = frame[(frame["task"] == task) & frame["finished"]]
    categories = sorted(c.split(":", 1)[1] for c in runs.columns if c.startswith("accuracy:") and runs[c].notna().any())
    if len(categories) < 2:
        return None
    profile_file = next((Path(f) / PROFILE for f in runs["folder"] if (Path(f) / PROFILE).exists()), None)
    base, gold = runs[runs["role"] == "start"], runs[runs["role"] == "gold"]
    singles = runs[runs["fixed_rm"] != ""]
    if profile_file is None or base.empty or gold.empty or singles.empty:
        return None
    profile = read_json(profile_file)
    start, correct = _category_means(base, categories), _category_means(gold, categories)
    rm_means = {rm: _category_means(chunk, categories)
                for rm, chunk in singles.groupby("fixed_rm")}
    auc = {c: {rm: (profile["categories"].get(c, {}).get("reward_models", {}).get(rm) or {}).get("auc") for rm in rm_means}
           for c in categories}
    best = {c: profile["best_rm"].get(c) for c in categories}  # the profile's choice, as oracle_rm's
    if any(b not in rm_means for b in best.values()):  # a category rates no RM, or its best RM has no run
        return None
    found = []
    gains = {c: correct[c] - start[c] for c in categories}
    found.append(Property(f"correctness reward beats Base by >= {GOLD_GAIN:g} points in every category",
                          all(g >= GOLD_GAIN for g in gains.values()), _listing(gains, signed=True)))
    best_gains = {c: rm_means[best[c]][c] - start[c] for c in categories}
    found.append(Property(f"the best-AUC RM beats Base by >= {BEST_RM_GAIN:g} points in every category",
                          all(g >= BEST_RM_GAIN for g in best_gains.values()),
                          _listing({f"{c} ({best[c]})": g for c, g in best_gains.items()}, signed=True)))
    weak = {f"{c} ({rm}, AUC {auc[c][rm]:.2f})": rm_means[rm][c] - start[c]
            for c in categories for rm in rm_means if auc[c][rm] is not None and auc[c][rm] < 0.5}
    found.append(Property("every RM with AUC < 0.5 ends below Base", all(g < 0 for g in weak.values()),
                          _listing(weak, signed=True) if weak else "no RM has AUC < 0.5"))
    found.append(Property("the most competent RM differs between categories", len(set(best.values())) > 1,
                          ", ".join(f"{c}: {rm}" for c, rm in best.items())))
    oracle = runs[runs["role"] == "oracle"]
    oracle_avg = (float(np.mean(list(_category_means(oracle, categories).values()))) if not oracle.empty
                  else float(np.mean([rm_means[best[c]][c] for c in categories])))
    single_avgs = {rm: float(np.mean(list(means.values()))) for rm, means in rm_means.items()}
    top = max(single_avgs, key=single_avgs.get)
    found.append(Property(f"no single RM within {ORACLE_MARGIN:g} points of the oracle on the category average",
                          single_avgs[top] <= oracle_avg - ORACLE_MARGIN,
                          f"oracle {oracle_avg:.1f}{'' if not oracle.empty else ' (composed)'}, best single RM {top} "
                          f"{single_avgs[top]:.1f}"))
    cells = [(auc[c][rm], rm_means[rm][c]) for c in categories for rm in rm_means if auc[c][rm] is not None]
    rho = float(spearmanr(*zip(*cells)).statistic) if len(cells) > 2 else float("nan")
    found.append(Property(f"Spearman(on-policy AUC, trained accuracy) >= {MIN_SPEARMAN:g} over (RM, category) cells",
                          bool(rho >= MIN_SPEARMAN), f"rho = {rho:.3f} over {len(cells)} cells"))
    return found


def _listing(values: dict[str, float], signed: bool = False) -> str:
    return ", ".join(f"{k}: {v:+.1f}" if signed else f"{k}: {v:.1f}" for k, v in values.items())


def calibration_report(frame: pd.DataFrame) -> dict[str, list[Property]]:
    """Every task of the store whose properties can be checked."""
    checked = {}
    for task in sorted(set(frame["task"].dropna())):
        found = check_task(frame, task)
        if found:
            checked[task] = found
    return checked


def calibration_markdown(checked: dict[str, list[Property]]) -> str:
    lines = ["**Testbed calibration properties** (means over seeds; they calibrate the instrument, not a method)", ""]
    for task, found in checked.items():
        held = sum(p.holds for p in found)
        lines += [f"{task}: {held} of {len(found)} hold", ""]
        lines += [f"- [{'x' if p.holds else ' '}] {p.text}: {p.detail}" for p in found]
        lines.append("")
    return "\n".join(lines)


def calibration_json(checked: dict[str, list[Property]]) -> dict[str, Any]:
    return {task: [{"property": p.text, "holds": p.holds, "detail": p.detail} for p in found] for task, found in checked.items()}

