"""Methods against the regime: a store whose runs vary the synthetic world (a ``world.*`` grid axis, e.g. how often
the starting policy is right) gets, per method row (and per value of the other axes, e.g. the start), its test
accuracy, its selection accuracy and the bandit-signal correlation against the regime; as tables (``regimes.md``,
``regimes.csv``) and figures (``fig_regimes_accuracy``, ``fig_regimes_selection``, ``fig_regimes_signal``).

Selection accuracy of a run: the share of its rated steps that used the batch category's most competent RM (a
router's step: the share of its prompts), against the run's stored profile. The signal correlation: Spearman's rho,
pooled over seeds, between the feedback each choice received (the negative training loss; and the MAB reward, which
is whatever the method was configured to learn from) and the chosen RM's on-policy AUC on the batch's category.
Reads JSON only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.common.files import write_text_atomic
from harness.common.selection_log import best_share
from harness.report.diagnostics import RatedRun, signal_rows
from harness.report.figures import panel_grid, save_data, save_figure
from harness.report.layouts import per_seed

WORLD_AXIS = "axis:world."


def regime_axis(frame: pd.DataFrame) -> str | None:
    """The ``axis:world.*`` column whose values differ between finished runs (the first such), or None."""
    done = frame[frame["finished"]]
    for column in frame.columns:
        if column.startswith(WORLD_AXIS) and done[column].dropna().nunique() >= 2:
            return column
    return None


def variant(run: pd.Series, regime: str) -> str:
    """Where the run's policy started ('from SFT'; nothing for the base policy) and its other axes (not the regime,
    not the policy, not the start), as ``from SFT, beta=0.1`` style text ('' for none)."""
    start = str(run.get("start_suffix") or "").strip().strip("[]")
    parts = [start] if start else []
    parts += [f"{column[5:].rsplit('.', 1)[-1]}={run[column]}" for column in run.index
              if column.startswith("axis:") and column not in (regime, "axis:policy", "axis:train.start") and pd.notna(run[column])]
    return ", ".join(parts)


def method_row(row: str, run: pd.Series) -> str:
    """The row without its start's suffix (the start is in the variant): one panel per method, a line per start."""
    suffix = str(run.get("start_suffix") or "")
    return row.replace(suffix, "", 1) if suffix else row


def _label(row: str, variant_text: str) -> str:
    return f"{row} [{variant_text}]" if variant_text else row


def accuracy_by_regime(frame: pd.DataFrame, regime: str) -> pd.DataFrame:
    """(row, variant, regime, mean, std, seeds) of test accuracy, with the derived Best RM and Avg. RM rows."""
    done = frame[frame["finished"]].set_index("run_id")
    long = per_seed(frame)  # the derived rows (Avg. RM) average within one world and variant: their suffix names them
    if long.empty:
        return pd.DataFrame(columns=["row", "variant", "regime", "mean", "std", "seeds"])
    first = long["run_id"].map(lambda r: r.split(";")[0])  # Avg. RM rows join their runs' ids
    long = long.assign(row=[method_row(row.rsplit(" @", 1)[0], done.loc[r]) for row, r in zip(long["row"], first)],
                       regime=first.map(done[regime]), variant=[variant(done.loc[r], regime) for r in first])
    grouped = long.groupby(["row", "variant", "regime", "rank"])["value"]
    table = grouped.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, seeds="count").reset_index()
    return table.sort_values(["rank", "row", "variant", "regime"]).drop(columns="rank").reset_index(drop=True)


def selection_by_regime(rated: list[RatedRun], regime: str) -> pd.DataFrame:
    """(row, variant, regime, mean, std, seeds) of each run's selection accuracy (share of its rated steps)."""
    records = []
    for run, steps, _ in rated:
        shares = [best_share(step) for step in steps if step.get("competence_gap") is not None]
        if shares and regime in run.index and pd.notna(run[regime]):
            records.append((method_row(run["row"], run), variant(run, regime), run[regime], float(np.mean(shares))))
    long = pd.DataFrame(records, columns=["row", "variant", "regime", "value"])
    if long.empty:
        return pd.DataFrame(columns=["row", "variant", "regime", "mean", "std", "seeds"])
    grouped = long.groupby(["row", "variant", "regime"])["value"]
    return grouped.agg(mean="mean", std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, seeds="count").reset_index()


def signal_by_regime(rated: list[RatedRun], regime: str) -> pd.DataFrame:
    """(row, variant, regime, steps, rho/p of -loss and of the MAB reward against the chosen RM's AUC)."""
    columns = ["row", "variant", "regime", "steps", "rho_neg_loss", "p_neg_loss", "rho_mab_reward", "p_mab_reward"]
    kept = [entry for entry in rated if regime in entry[0].index and pd.notna(entry[0][regime])]
    rows = signal_rows(kept, group=lambda run: {"row": method_row(run["row"], run), "variant": variant(run, regime),
                                                "regime": run[regime]})
    return pd.DataFrame(columns=columns) if rows.empty else rows[columns]


def _cell(mean: float | None, std: float | None = None, digits: int = 1) -> str:
    if mean is None or pd.isna(mean):
        return "--"
    return f"{mean:.{digits}f} ± {std:.{digits}f}" if std is not None else f"{mean:.{digits}f}"


def _pivot_markdown(table: pd.DataFrame, values: list[Any], cell) -> list[str]:
    lines = ["| Method | " + " | ".join(str(v) for v in values) + " |", "|---|" + "---|" * len(values)]
    for (row, variant_text), group in table.groupby(["row", "variant"], sort=False):
        by_value = {r["regime"]: r for r in group.to_dict(orient="records")}
        lines.append(f"| {_label(row, variant_text)} | " + " | ".join(cell(by_value.get(v)) for v in values) + " |")
    return lines


def regimes_markdown(regime: str, accuracy: pd.DataFrame, selection: pd.DataFrame, signal: pd.DataFrame) -> str:
    name = regime[5:]
    values = sorted(set(accuracy["regime"]) | set(selection["regime"]) | set(signal["regime"]))
    lines = [f"# Methods against the regime ({name})", "",
             f"Each column is a world (`{name}`); mean ± std over seeds. The variant in brackets is the runs' other axes.", "",
             "## Test accuracy (%)", "", *_pivot_markdown(accuracy, values, lambda r: _cell(r and r["mean"], r and r["std"]))]
    if not selection.empty:
        lines += ["", "## Selection accuracy (share of steps that used the category's most competent RM)", "",
                  *_pivot_markdown(selection, values, lambda r: _cell(r and r["mean"], r and r["std"], 2))]
    if not signal.empty:
        def rho(column: str):
            return lambda r: "--" if r is None or pd.isna(r[column]) else f"{r[column]:+.2f} (p {r['p' + column[3:]]:.2g})"
        lines += ["", "## Does the feedback know the right RM? Spearman's rho with the chosen RM's on-policy AUC", "",
                  "Negative training loss:", "", *_pivot_markdown(signal, values, rho("rho_neg_loss")), "",
                  "The MAB reward the bandit learnt from (the method's own: negative loss, accuracy difference or reward "
                  "spread, quantile-scaled):", "", *_pivot_markdown(signal, values, rho("rho_mab_reward"))]
    return "\n".join(lines) + "\n"


def _panels(table: pd.DataFrame, y: str, ylabel: str, xlabel: str, out: Path, name: str,
            band: str | None = None, zero_line: bool = False, series: list[tuple[str, str]] | None = None) -> list[Path]:
    rows = list(dict.fromkeys(table["row"]))
    fig, axes = panel_grid(len(rows), 3.6, 2.9, columns=4)
    for ax, row in zip(axes, rows):
        chunk = table[table["row"] == row]
        several = chunk["variant"].nunique() > 1
        for variant_text, line in chunk.groupby("variant", sort=False):
            line = line.sort_values("regime")
            for column, suffix in series or [(y, "")]:
                shown = variant_text or ("from Base" if several else "")
                label = ", ".join(t for t in (shown, suffix) if t) or None
                x = line["regime"].astype(float)
                if band:
                    ax.errorbar(x, line[column], yerr=line[band], marker="o", capsize=2, label=label)
                else:
                    ax.plot(x, line[column], marker="o", label=label)
        if zero_line:
            ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_title(row, fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6)
    return save_figure(fig, out, name) + save_data(table, out, name)


def write_regimes(frame: pd.DataFrame, rated: list[RatedRun], out: Path) -> list[Path]:
    """The regime tables and figures, or nothing when no world axis varies."""
    regime = regime_axis(frame)
    if regime is None:
        return []
    accuracy = accuracy_by_regime(frame, regime)
    selection = selection_by_regime(rated, regime)
    signal = signal_by_regime(rated, regime)
    xlabel = regime[5:]
    write_text_atomic(out / "regimes.md", regimes_markdown(regime, accuracy, selection, signal))
    both = pd.concat([accuracy.assign(measure="test_accuracy"), selection.assign(measure="selection_accuracy")])
    write_text_atomic(out / "regimes.csv", both.to_csv(index=False))
    written = [out / "regimes.md", out / "regimes.csv"]
    written += _panels(accuracy, "mean", "test accuracy (%)", xlabel, out, "fig_regimes_accuracy", band="std")
    if not selection.empty:
        written += _panels(selection, "mean", "selection accuracy", xlabel, out, "fig_regimes_selection", band="std")
    if not signal.empty:
        written += _panels(signal, "rho_neg_loss", "Spearman rho with chosen RM's AUC", xlabel, out, "fig_regimes_signal",
                           zero_line=True, series=[("rho_neg_loss", "-loss"), ("rho_mab_reward", "MAB reward")])
    return written
