"""Significance: one-sided Wilcoxon signed-rank tests of each target row (the sweep's ``report.target``, by
default LASeR) against every other row, paired by seed, with the mean paired difference and its 95% bootstrap
interval (seeds resampled with replacement); exact one-sided McNemar tests paired by example.

H0: the target's accuracy equals the baseline's; H1: the target's is greater (the review discussion's test).
With n non-zero paired differences the smallest one-sided p-value the exact test can give is 2^-n, so
n <= 4 can never reach 0.05; such rows say so ("n too small for p < 0.05").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binomtest, wilcoxon

from harness.common.files import read_jsonl
from harness.report.layouts import group_of
from harness.store.layout import predictions_file


@dataclass
class WilcoxonResult:
    task: str
    group: str
    target: str
    baseline: str
    n: int
    statistic: float | None
    p_value: float | None
    note: str = ""
    mean_difference: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None


def one_sided_wilcoxon(ours: list[float], theirs: list[float]) -> tuple[float | None, float | None, int, str]:
    differences = [a - b for a, b in zip(ours, theirs)]
    nonzero = [d for d in differences if d != 0]
    if not nonzero:
        return None, None, len(differences), "all paired differences are zero"
    result = wilcoxon(ours, theirs, alternative="greater", zero_method="wilcox")
    note = ""
    if 0.5 ** len(nonzero) > 0.05:
        note = f"n too small for p < 0.05: {len(nonzero)} non-zero pairs, min p = {0.5 ** len(nonzero):.3g}"
    return float(result.statistic), float(result.pvalue), len(differences), note


def bootstrap_difference(ours: list[float], theirs: list[float], resamples: int = 10000, seed: int = 0,
                         level: float = 0.95) -> tuple[float, float, float]:
    """Mean paired difference and its percentile bootstrap interval (pairs resampled with replacement)."""
    differences = np.asarray(ours, dtype=float) - np.asarray(theirs, dtype=float)
    rng = np.random.default_rng(seed)
    draws = differences[rng.integers(len(differences), size=(resamples, len(differences)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    return float(differences.mean()), float(np.percentile(draws, tail)), float(np.percentile(draws, 100 - tail))


def target_vs_baselines(long: pd.DataFrame) -> list[WilcoxonResult]:
    """Every target row against every other row but the single-RM ones (Best RM and Avg. RM stand for them), per
    task and group, on the seeds both have."""
    results = []
    for (task, group), chunk in long.groupby(["task", "group"]):
        table = chunk.pivot_table(index="seed", columns="row", values="value", aggfunc="mean")
        targets = sorted(chunk.loc[chunk["target"].astype(bool), "row"].unique())
        single = set(chunk.loc[chunk["fixed_rm"] != "", "row"])
        for target in targets:
            for baseline in [c for c in table.columns if c != target and c not in single]:
                paired = table[[target, baseline]].dropna()
                if paired.empty:
                    continue
                ours, theirs = paired[target].tolist(), paired[baseline].tolist()
                statistic, p_value, n, note = one_sided_wilcoxon(ours, theirs)
                mean, low, high = bootstrap_difference(ours, theirs)
                results.append(WilcoxonResult(task, group, target, baseline, n, statistic, p_value, note, mean, low, high))
    return results


def wilcoxon_markdown(results: list[WilcoxonResult]) -> str:
    lines = ["**One-sided Wilcoxon signed-rank tests (H1: target > baseline), paired by seed; mean difference "
             "(points) with its 95% bootstrap interval over seeds**", "",
             "| task | policy | target | baseline | n | difference [95% CI] | W | p | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        w = "--" if r.statistic is None else f"{r.statistic:g}"
        p = "--" if r.p_value is None else f"{r.p_value:.4g}"
        ci = f"{r.mean_difference:+.2f} [{r.ci_low:+.2f}, {r.ci_high:+.2f}]" if r.mean_difference is not None else "--"
        lines.append(f"| {r.task} | {r.group} | {r.target} | {r.baseline} | {r.n} | {ci} | {w} | {p} | {r.note} |")
    return "\n".join(lines) + "\n"


def wilcoxon_frame(results: list[WilcoxonResult]) -> pd.DataFrame:
    return pd.DataFrame([r.__dict__ for r in results])


def mcnemar_greater(ours_correct: list[bool], theirs_correct: list[bool]) -> tuple[int, int, float]:
    """Exact one-sided McNemar test on paired per-example outcomes: (b, c, p) with b = only ours right,
    c = only theirs right, p = P(Binomial(b + c, 1/2) >= b)."""
    b = sum(o and not t for o, t in zip(ours_correct, theirs_correct))
    c = sum(t and not o for o, t in zip(ours_correct, theirs_correct))
    p_value = binomtest(b, b + c, 0.5, alternative="greater").pvalue if b + c else 1.0
    return b, c, float(p_value)


def per_example_tests(frame: pd.DataFrame) -> pd.DataFrame:
    """Target runs against every other method's runs of the same task, group and seed, paired by example
    (from ``predictions.jsonl``), pooled over seeds."""
    done = frame[frame["finished"]].copy()
    if "task_kind" in done:  # right/wrong outcomes exist for accuracy tasks only
        done = done[done["task_kind"].fillna("accuracy") == "accuracy"]
    if done.empty:
        return pd.DataFrame()
    done["group"] = group_of(done)
    outcomes: dict[str, dict[str, bool]] = {}
    for _, run in done.iterrows():
        path = Path(run["folder"]) / predictions_file()
        if path.exists():
            outcomes[run["run_id"]] = {r["id"]: bool(r["correct"]) for r in read_jsonl(path)}
    rows = []
    for (task, group), chunk in done.groupby(["task", "group"]):
        for target in sorted(chunk.loc[chunk["target"].astype(bool), "row"].unique()):
            for other in sorted(r for r in chunk["row"].unique() if r != target):
                ours_all, theirs_all = [], []
                for seed in sorted(chunk["seed"].unique()):
                    mine = chunk[(chunk["row"] == target) & (chunk["seed"] == seed)]["run_id"].tolist()
                    theirs = chunk[(chunk["row"] == other) & (chunk["seed"] == seed)]["run_id"].tolist()
                    if len(mine) != 1 or len(theirs) != 1 or mine[0] not in outcomes or theirs[0] not in outcomes:
                        continue
                    shared = sorted(set(outcomes[mine[0]]) & set(outcomes[theirs[0]]))
                    ours_all += [outcomes[mine[0]][i] for i in shared]
                    theirs_all += [outcomes[theirs[0]][i] for i in shared]
                if ours_all:
                    b, c, p_value = mcnemar_greater(ours_all, theirs_all)
                    rows.append({"task": task, "group": group, "target": target, "baseline": other,
                                 "pairs": len(ours_all), "only_target_right": b, "only_baseline_right": c, "p_value": p_value})
    return pd.DataFrame(rows)
