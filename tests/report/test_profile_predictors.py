"""The report's predictor table (which profile statistic predicts a single-RM run's trained accuracy) on small
hand-made run stores: Spearman's rho against hand-computed ranks, the cells counted, old profiles and stores with
too few cells handled without an error, and the profile's reward-signal tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from scipy.stats import spearmanr

from harness.report.predictors import predictor_cells, predictor_tables
from harness.report.profiles import profile_tables
from harness.report.runs import load_runs
from harness.report.write import write_report

from conftest import write_finished_run

# trained accuracy (percent, mean of two seeds 5 points apart) per (RM, category); ranks 1..6 in brackets
ACCURACY = {("rm_a", "a"): 60, ("rm_b", "a"): 35, ("rm_c", "a"): 10, ("rm_a", "b"): 20, ("rm_b", "b"): 55, ("rm_c", "b"): 5}
#           [6]                [4]                [2]                [3]                [5]                [1]
STATS = {  # auc: ranks 1<->2 and 5<->6 swapped, sum d^2 = 4; pairwise accuracy: none for (rm_b, b), ranks 2<->3 of
           # the other five swapped, sum d^2 = 2; reward_std in accuracy's order; mean_margin in the reverse order
    ("rm_a", "a"): {"auc": 0.80, "pairwise_accuracy": 0.9, "reward_std": 0.60, "mean_margin": 0.1},
    ("rm_b", "a"): {"auc": 0.70, "pairwise_accuracy": 0.7, "reward_std": 0.40, "mean_margin": 0.3},
    ("rm_c", "a"): {"auc": 0.30, "pairwise_accuracy": 0.3, "reward_std": 0.20, "mean_margin": 0.5},
    ("rm_a", "b"): {"auc": 0.60, "pairwise_accuracy": 0.2, "reward_std": 0.30, "mean_margin": 0.4},
    ("rm_b", "b"): {"auc": 0.90, "pairwise_accuracy": None, "reward_std": 0.50, "mean_margin": 0.2},
    ("rm_c", "b"): {"auc": 0.40, "pairwise_accuracy": 0.1, "reward_std": 0.10, "mean_margin": 0.6},
}


def _profile(version: int = 2) -> dict:
    def competence(rm: str, category: str) -> dict:
        found = dict(STATS[(rm, category)]) if category != "all" else {
            "auc": 0.5, "pairwise_accuracy": 0.5, "reward_std": 9.0, "mean_margin": 9.0}  # pooled: never a cell here
        if version < 2:
            found.pop("reward_std"), found.pop("mean_margin")
        return {**found, "auc_ci": None, "pairwise_ci": None}

    return {"version": version, "task": "mix", "policy": "p", "num_samples": 4, "reward_models": ["rm_a", "rm_b", "rm_c"],
            "key": f"k{version}", "best_rm": {"a": "rm_a", "b": "rm_b", "all": "rm_a"},
            "categories": {c: {"prompts": 10, "samples": 40, "sample_accuracy": 0.5,
                               "reward_models": {rm: competence(rm, c) for rm in ("rm_a", "rm_b", "rm_c")}}
                           for c in ("a", "b", "all")}}


def _write_run(root: Path, label: str, method: dict, seed: int, accuracies: dict[str, float], profile: dict) -> None:
    write_finished_run(root, label, method, seed, accuracies, profile)


def _store(tmp_path: Path, rms: tuple[str, ...] = ("rm_a", "rm_b", "rm_c"), version: int = 2) -> Path:
    root = tmp_path / "store"
    for seed, shift in ((0, -5), (1, 5)):
        for rm in rms:
            accuracies = {c: (ACCURACY[(rm, c)] + shift) / 100 for c in ("a", "b")}
            _write_run(root, f"rm-{rm}", {"name": "single_rm", "args": {"rm": rm}}, seed, accuracies, _profile(version))
        _write_run(root, "laser", {"name": "laser", "args": {}}, seed, {"a": 0.9, "b": 0.9}, _profile(version))  # not a cell
    return root


def _rows(table) -> dict[str, list]:
    return {row: [cell.mean for cell in cells] for row, cells in table.rows.items()}


def test_spearman_of_each_statistic_equals_the_hand_computed_one(tmp_path):
    frame = load_runs(_store(tmp_path))
    cells = predictor_cells(frame, _profile())
    assert len(cells) == 6 and set(cells["category"]) == {"a", "b"}  # the pooled category is no cell
    assert dict(zip(zip(cells["rm"], cells["category"]), cells["accuracy"])) == pytest.approx(ACCURACY)
    table, = predictor_tables(frame, [_profile()])
    rows = _rows(table)
    assert rows["reward std"][:2] == [6, pytest.approx(1.0)] and rows["mean margin"][:2] == [6, pytest.approx(-1.0)]
    assert rows["AUC"][:2] == [6, pytest.approx(1 - 6 * 4 / (6 * 35))]  # rho = 1 - 6 sum d^2 / (n (n^2 - 1))
    assert rows["pairwise accuracy"][:2] == [5, pytest.approx(1 - 6 * 2 / (5 * 24))]  # the cell without it left out
    present = [(ACCURACY[k], s["pairwise_accuracy"]) for k, s in STATS.items() if s["pairwise_accuracy"] is not None]
    accuracy, statistic = zip(*present)
    assert rows["AUC"][2] == pytest.approx(spearmanr([STATS[k]["auc"] for k in ACCURACY], list(ACCURACY.values())).pvalue)
    assert rows["pairwise accuracy"][2] == pytest.approx(spearmanr(statistic, accuracy).pvalue)
    # the caption names the best predictor, the highest rho
    assert "reward std predicts a good teacher best (rho = 1.00)" in table.title


def test_the_report_renders_the_table_beside_its_neighbours(tmp_path):
    written = {path.name for path in write_report(_store(tmp_path), tmp_path / "report")}
    assert {"profile_predictors_mix.md", "profile_predictors_mix.tex", "profile_predictors_mix.csv"} <= written
    assert {"profile_mix_reward_std.md", "profile_mix_margin.md"} <= written
    markdown = (tmp_path / "report" / "profile_predictors_mix.md").read_text()
    assert "| Statistic | n | rho | p |" in markdown and "| AUC | 6 | 0.886 |" in markdown
    assert "profile_predictors_mix" in (tmp_path / "report" / "index.html").read_text()
    assert "reward std predicts a good teacher best" in (tmp_path / "report" / "README.md").read_text()


def test_a_version_1_profile_has_no_reward_signal_rows_and_few_cells_give_no_table(tmp_path):
    frame = load_runs(_store(tmp_path, version=1))
    table, = predictor_tables(frame, [_profile(1)])
    assert table.rows["reward std"][0].mean == 0 and table.rows["reward std"][1].empty  # not misread as a number
    assert "pairwise accuracy predicts a good teacher best (rho = 0.90)" in table.title
    assert [t.name for t in profile_tables(_profile(1))] == ["profile_auc", "profile_pairwise"]
    few = load_runs(_store(tmp_path / "few", rms=("rm_a",)))  # two cells
    assert predictor_tables(few, [_profile()]) == []
    written = {path.name for path in write_report(tmp_path / "few" / "store", tmp_path / "report")}
    assert not any(name.startswith("profile_predictors") for name in written)
