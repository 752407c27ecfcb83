"""Significance: one-sided Wilcoxon signed-rank tests of LASeR against each baseline, paired by seed.

H0: LASeR's accuracy equals the baseline's; H1: LASeR's is greater (the review discussion's test).
With n non-zero paired differences the smallest one-sided p-value the exact test can give is 2^-n, so
n <= 4 can never reach 0.05; such rows say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from scipy.stats import wilcoxon


@dataclass
class WilcoxonResult:
    task: str
    group: str
    laser: str
    baseline: str
    n: int
    statistic: float | None
    p_value: float | None
    note: str = ""


def one_sided_wilcoxon(ours: list[float], theirs: list[float]) -> tuple[float | None, float | None, int, str]:
    differences = [a - b for a, b in zip(ours, theirs)]
    nonzero = [d for d in differences if d != 0]
    if not nonzero:
        return None, None, len(differences), "all paired differences are zero"
    result = wilcoxon(ours, theirs, alternative="greater", zero_method="wilcox")
    note = ""
    if 0.5 ** len(nonzero) > 0.05:
        note = f"n={len(nonzero)} non-zero pairs: the test cannot reach p < 0.05 (min p = {0.5 ** len(nonzero):.3g})"
    return float(result.statistic), float(result.pvalue), len(differences), note


def laser_vs_baselines(long: pd.DataFrame) -> list[WilcoxonResult]:
    """Every LASeR row against every other row, per task and group, on the seeds both have."""
    results = []
    for (task, group), chunk in long.groupby(["task", "group"]):
        table = chunk.pivot_table(index="seed", columns="row", values="value", aggfunc="mean")
        for laser in [c for c in table.columns if c.startswith("LASeR")]:
            for baseline in [c for c in table.columns if c != laser and not c.startswith("RM: ")]:
                paired = table[[laser, baseline]].dropna()
                if paired.empty:
                    continue
                statistic, p_value, n, note = one_sided_wilcoxon(paired[laser].tolist(), paired[baseline].tolist())
                results.append(WilcoxonResult(task, group, laser, baseline, n, statistic, p_value, note))
    return results


def wilcoxon_markdown(results: list[WilcoxonResult]) -> str:
    lines = ["**One-sided Wilcoxon signed-rank tests (H1: LASeR > baseline), paired by seed**", "",
             "| task | policy | LASeR row | baseline | n | W | p | note |", "|---|---|---|---|---|---|---|---|"]
    for r in results:
        w = "--" if r.statistic is None else f"{r.statistic:g}"
        p = "--" if r.p_value is None else f"{r.p_value:.4g}"
        lines.append(f"| {r.task} | {r.group} | {r.laser} | {r.baseline} | {r.n} | {w} | {p} | {r.note} |")
    return "\n".join(lines) + "\n"


def wilcoxon_frame(results: list[WilcoxonResult]) -> pd.DataFrame:
    return pd.DataFrame([r.__dict__ for r in results])
