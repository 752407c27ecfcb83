"""Report parts of the open-ended and long-context domains, from stored JSON only:

- ``table2``: LongBench best-of-n scores per category (layout of paper Table 2: categories x policies);
- ``alpaca_eval``: length-controlled win rates of each compared model against its baseline (layout of paper Fig. 2),
  from ``<sweep>/comparisons/**/winrates.json``, and ``alpaca_eval_raw`` with the raw win rates;
- ``alpaca_eval_by_category``: the raw win rates per prompt category;
- ``utilisation_by_category``: the share of each RM among a selecting method's choices per category (paper
  Figs. 6-7, which show LASeR's; WildChat from the training steps, LongBench from the frozen method's test batches).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from harness.common.files import read_json
from harness.common.selection_log import all_decisions
from harness.config.errors import ConfigError
from harness.report.layouts import cell_of, group_of, order_rows, per_seed
from harness.report.methods import BEST_RM_ROW
from harness.report.runs import selections
from harness.report.tables import Table
from harness.store.layout import COMPARISONS_DIR, MANIFEST, TEST_SELECTIONS, WINRATES

CATEGORY_TITLES = {
    "single_doc_qa": "Single-Doc QA", "multi_doc_qa": "Multi-Doc QA", "summarization": "Summarization",
    "few_shot": "Few-shot Learning", "creative_writing": "Creative", "analysis": "Analysis", "coding": "Coding",
    "factual_information": "Factual", "math_reasoning": "Math",
}
CATEGORY_ORDER = list(CATEGORY_TITLES)


def category_title(category: str) -> str:
    return CATEGORY_TITLES.get(category, category)


def sorted_categories(categories) -> list[str]:
    """Categories in the paper's order; unknown ones after, alphabetically."""
    return sorted(categories, key=lambda c: (CATEGORY_ORDER.index(c) if c in CATEGORY_ORDER else len(CATEGORY_ORDER), c))


def table2(frame: pd.DataFrame) -> Table | None:
    """Per-category best-of-n scores (F1 / ROUGE-L, %), categories as groups and policies as columns."""
    categories = sorted_categories(c[len("score:"):] for c in frame.columns if c.startswith("score:"))
    if not categories:
        return None
    parts = []
    for category in categories:
        part = per_seed(frame, value=f"score:{category}")
        part["category"] = category
        parts.append(part)
    long = pd.concat(parts)
    policies = sorted(long["group"].unique())
    groups = [category_title(c) for c in categories]
    starts = set(frame.loc[frame["role"] == "start", "row"])
    rows = {}
    for row in order_rows(long[long["fixed_rm"] == ""]):
        chosen = long[long["row"] == row]
        rows["Base model" if row in starts else row] = [  # paper Table 2's name for the starting policy
            cell_of(chosen[(chosen["category"] == category) & (chosen["group"] == policy)])
            for category in categories for policy in policies]
    if not rows:
        return None
    seeds = sorted(long["seed"].dropna().unique().tolist())
    return Table("table2", "Long context, best-of-n: F1 (QA, few-shot) and ROUGE-L (summarization), % (layout of paper Table 2)",
                 groups, [p or "policy" for p in policies], rows,
                 footnotes=[f"Mean ± std over seeds {seeds}. Best bold, second underlined.",
                            "Base model: greedy decoding. Other rows: n samples reranked by the RM the method picks per "
                            "test batch (a selecting method as it learned on the train split, frozen). Avg. RM: mean of the single-RM runs."])


def load_winrates(roots: list[Path]) -> pd.DataFrame:
    """Every stored comparison's win rates in the stores, one row each (``run_id`` = its winrates.json in its
    store). The same comparison in two stores counts once when its win rates agree, else is a ConfigError naming
    both files."""
    rows = []
    found: dict[str, Path] = {}
    for root in roots:
        for path in sorted((root / COMPARISONS_DIR).glob(f"*/*/seed*/{WINRATES}")):
            key = path.relative_to(root).as_posix()
            data = read_json(path)
            if key in found:
                if read_json(found[key]) != data:
                    raise ConfigError(f"comparison {key} is in two stores with different win rates: {found[key]} and "
                                      f"{path}; report them apart, or remove one of the two")
                continue
            found[key] = path
            data["run_id"] = key
            rows.append(_winrate_row(data))
    return pd.DataFrame(rows)


def _winrate_row(data: dict[str, Any]) -> dict[str, Any]:
    """A comparison's win rates as a row: its prompts' policy (an out-of-distribution set's prompts marked)."""
    policy = data.get("policy") or (data.get("axes") or {}).get("policy", "")
    # prompts of an out-of-distribution set (e.g. AlpacaEval's) get their own rows
    ood = data.get("trained_on") not in (None, data["task"])
    return {**data, "policy": f"{policy} [{data['task']}]".strip() if ood else policy}


def short_name(frame: pd.DataFrame, label: str) -> str:
    """A sweep label's short name in comparison titles (its runs' reporting record's ``short``; the single-RM run
    of the configured best_rm is "Best RM"; a label without runs: itself)."""
    runs = frame[frame["label"] == label] if "label" in frame else frame.iloc[0:0]
    if runs.empty:
        return label
    run = runs.iloc[0]
    if run["fixed_rm"] and run["fixed_rm"] == run.get("best_rm"):
        return BEST_RM_ROW
    return run["short"]


def _pair_title(frame: pd.DataFrame, model: str, baseline: str) -> str:
    """'LASeR vs. Best RM' style names from the methods' short names."""
    return f"{short_name(frame, model)} vs. {short_name(frame, baseline)}"


def _configured_order(roots: list[Path], pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The pairs in the order of the sweep's ``compare.pairs`` (the stores' manifests', in order), others after them."""
    configured: list[tuple[str, str]] = []
    for root in roots:
        if (root / MANIFEST).exists():
            compare = read_json(root / MANIFEST).get("sweep", {}).get("compare") or {}
            configured += [tuple(pair) for pair in compare.get("pairs", []) if tuple(pair) not in configured]
    return sorted(pairs, key=lambda pair: configured.index(pair) if pair in configured else len(configured))


def winrate_tables(frame: pd.DataFrame, roots: list[Path], data: pd.DataFrame) -> list[Table]:
    """Fig. 2 layout (length-controlled) and its raw twin, from ``load_winrates``."""
    if data.empty:
        return []
    tables = []
    for name, value, title in (
            ("alpaca_eval", "length_controlled_winrate", "Length-controlled win rates (%), model vs. baseline (layout of paper Fig. 2)"),
            ("alpaca_eval_raw", "win_rate", "Raw win rates (%), model vs. baseline (draws count half)")):
        if value not in data:
            continue
        pairs = _configured_order(roots, list(dict.fromkeys(zip(data["model"], data["baseline"]))))
        groups = [_pair_title(frame, m, b) for m, b in pairs]
        policies = sorted(data["policy"].fillna("").unique())
        rows = {}
        for policy in policies:
            cells = []
            for model, baseline in pairs:
                chunk = data[(data["policy"].fillna("") == policy) & (data["model"] == model) & (data["baseline"] == baseline)]
                wins = chunk.assign(value=chunk[value].astype(float))
                cells += [cell_of(wins), cell_of(wins.assign(value=100.0 - wins["value"]))]
            rows[policy or "policy"] = cells
        variants = sorted({str(v) for v in data.get("lc_variant", pd.Series(dtype=str)).dropna()})
        judges = sorted({str(v) for v in data.get("judge", pd.Series(dtype=str)).dropna()})
        footnotes = [f"Mean ± std over seeds {sorted(data['seed'].unique().tolist())}; judge: {', '.join(judges)}; "
                     f"{int(data['n_total'].mean())} prompts per comparison on average."]
        if value == "length_controlled_winrate":
            footnotes.append(f"Length control: alpaca_eval's {', '.join(variants)} GLM "
                             "(length_controlled_v1 needs AlpacaEval prompts; length_controlled_minimal controls for length only).")
        models = {model for model, _ in pairs}
        model_name = short_name(frame, models.pop()) if len(models) == 1 else "Model"
        table = Table(name, title, groups, [f"{model_name} wins", "Baseline wins"], rows, highlight="none", footnotes=footnotes)
        tables.append(table)
    return tables


def winrates_by_category(frame: pd.DataFrame, roots: list[Path], data: pd.DataFrame) -> Table | None:
    """Raw win rates (%) of each comparison per prompt category, mean over seeds."""
    if data.empty or "by_category" not in data:
        return None
    pairs = _configured_order(roots, list(dict.fromkeys(zip(data["model"], data["baseline"]))))
    records = [(row["policy"], (row["model"], row["baseline"]), category, value, row["run_id"])
               for _, row in data.iterrows() for category, value in (row["by_category"] or {}).items()]
    if not records:
        return None
    long = pd.DataFrame(records, columns=["policy", "pair", "category", "value", "run_id"])
    rows = {}
    for policy in sorted(long["policy"].unique()):
        present = long[long["policy"] == policy]["category"].unique()
        for category in sorted_categories(present):
            cells = []
            for pair in pairs:
                chunk = long[(long["policy"] == policy) & (long["category"] == category) & (long["pair"] == pair)]
                cells.append(cell_of(chunk))
            rows[f"{category_title(category)} ({policy})" if policy else category_title(category)] = cells
    return Table("alpaca_eval_by_category", "Raw win rates (%) per prompt category, model vs. baseline",
                 [_pair_title(frame, m, b) for m, b in pairs], ["win rate"], rows, highlight="none",
                 footnotes=["Draws count half; mean over seeds. WildChat: the prompt classifier's categories; AlpacaEval: its source sets."])


def utilisation_by_category(frame: pd.DataFrame) -> pd.DataFrame:
    """(task, policy, row, category, rm, share %) over the selecting methods' runs: test batches in best-of-n mode,
    else training steps."""
    selecting = frame[frame["finished"] & frame["selects"]]
    records = []
    for index, run in selecting.iterrows():
        steps = selections(run["folder"], TEST_SELECTIONS) or selections(run["folder"])
        steps = [d for d in all_decisions(steps) if d.get("category")]
        policy = group_of(selecting.loc[[index]]).iloc[0]
        for category in sorted({s["category"] for s in steps}):
            chosen = [s["reward_model"] for s in steps if s["category"] == category]
            for rm in sorted(set(chosen)):
                records.append((run["task"], policy, run["row"], category, rm, run["seed"], 100.0 * chosen.count(rm) / len(chosen)))
    if not records:
        return pd.DataFrame()
    keys = ["task", "policy", "row", "category"]
    return mean_shares(pd.DataFrame(records, columns=keys + ["reward_model", "seed", "share"]), keys).drop(columns="seeds")


def mean_shares(long: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean over seeds of each RM's share (%) per ``keys``, a RM a seed never chose counting 0 in that seed;
    ``long`` has ``keys``, ``seed``, ``reward_model`` and ``share``. Adds ``seeds``, how many were averaged."""
    full = long.pivot_table(index=keys + ["seed"], columns="reward_model", values="share", fill_value=0.0)
    return (full.stack().rename("share").reset_index().groupby(keys + ["reward_model"])
            .agg(share=("share", "mean"), seeds=("seed", "nunique")).reset_index())


def utilisation_markdown(shares: pd.DataFrame) -> str:
    lines = ["**RM utilisation per category of each selecting method (%; layout of paper Figs. 6-7), mean over seeds**", ""]
    for (task, policy, row), chunk in shares.groupby(["task", "policy", "row"]):
        rms = sorted(chunk["reward_model"].unique())
        lines += [f"{row}: {task} {policy}".strip(), "", "| category | " + " | ".join(rms) + " |", "|---" * (len(rms) + 1) + "|"]
        for category in sorted_categories(chunk["category"].unique()):
            values = chunk[chunk["category"] == category].set_index("reward_model")["share"]
            lines.append(f"| {category_title(category)} | " + " | ".join(f"{values.get(rm, 0.0):.1f}" for rm in rms) + " |")
        lines.append("")
    return "\n".join(lines)
