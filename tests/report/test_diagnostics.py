"""Selection diagnostics and the testbed's calibration properties, on small hand-made run stores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.report.calibration import calibration_report, check_task
from harness.report.diagnostics import rated_runs, selection_curves, signal_rows
from harness.report.runs import load_runs
from harness.report.write import write_report

from conftest import write_finished_run

CATEGORIES = ("a", "b")
AUC = {"a": {"rm_a": 0.9, "rm_b": 0.6, "rm_bad": 0.2}, "b": {"rm_a": 0.55, "rm_b": 0.95, "rm_bad": 0.3}}


def _profile() -> dict:
    return {"task": "mix", "policy": "p", "num_samples": 4, "reward_models": ["rm_a", "rm_b", "rm_bad"], "key": "k",
            "best_rm": {"a": "rm_a", "b": "rm_b"},
            "categories": {c: {"prompts": 10, "samples": 40, "sample_accuracy": 0.5,
                               "reward_models": {rm: {"auc": auc, "auc_ci": [auc - 0.05, auc + 0.05], "pairwise_accuracy": auc,
                                                      "pairwise_ci": [auc - 0.1, auc + 0.1]} for rm, auc in AUC[c].items()}}
                           for c in CATEGORIES}}


def _write_run(root: Path, label: str, method: dict, seed: int, accuracies: dict[str, float],
               steps: list[tuple[str, str, float, float | None]] = ()) -> None:
    """A finished run; ``steps`` are (category, chosen RM, loss, MAB reward) in order."""
    folder = write_finished_run(root, label, method, seed, accuracies, _profile())
    records = []
    for category, chosen, loss, reward in steps:
        best = _profile()["best_rm"][category]
        records.append({"reward_model": chosen, "best_rm": best, "profile_category": category, "category": category,
                        "competence_gap": AUC[category][best] - AUC[category][chosen], "loss": loss, "mab_reward": reward})
    (folder / "selections.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))


def _store(tmp_path: Path, gold_b: float = 0.60, rm_a_b: float = 0.20) -> Path:
    root = tmp_path / "store"
    for seed in (0, 1):
        _write_run(root, "base", {"name": "base", "args": {}}, seed, {"a": 0.30, "b": 0.30})
        _write_run(root, "correctness", {"name": "correctness", "args": {}}, seed, {"a": 0.70, "b": gold_b})
        _write_run(root, "rm-a", {"name": "single_rm", "args": {"rm": "rm_a"}}, seed, {"a": 0.60, "b": rm_a_b})
        _write_run(root, "rm-b", {"name": "single_rm", "args": {"rm": "rm_b"}}, seed, {"a": 0.35, "b": 0.55})
        _write_run(root, "rm-bad", {"name": "single_rm", "args": {"rm": "rm_bad"}}, seed, {"a": 0.10, "b": 0.05})
        # the bandit: good RM choices got lower losses and higher MAB rewards
        _write_run(root, "laser", {"name": "laser", "args": {}}, seed, {"a": 0.5, "b": 0.5},
                   [("a", "rm_b", 0.9, -1.0), ("b", "rm_b", 0.5, 1.0), ("a", "rm_a", 0.4, 1.5), ("b", "rm_a", 0.8, -0.5)])
    return root


def test_calibration_properties_are_computed_as_by_hand(tmp_path):
    found = {p.text.split(" ")[0] + str(i): p for i, p in enumerate(check_task(load_runs(_store(tmp_path)), "mix"))}
    gold, best, weak, differs, oracle, rho = found.values()
    assert gold.holds and gold.detail == "a: +40.0, b: +30.0"
    assert best.holds and best.detail == "a (rm_a): +30.0, b (rm_b): +25.0"
    assert weak.holds and "rm_bad" in weak.detail and "rm_a" not in weak.detail  # only AUC < 0.5 RMs
    assert differs.holds and differs.detail == "a: rm_a, b: rm_b"
    # oracle composed from the best-AUC RM per category: (60 + 55) / 2 = 57.5; best single RM rm_b (35 + 55) / 2 = 45
    assert oracle.holds and oracle.detail == "oracle 57.5 (composed), best single RM rm_b 45.0"
    assert rho.holds and rho.detail == "rho = 0.886 over 6 cells"  # ranks differ by 1 in four cells


def test_a_failing_property_is_reported_as_failing(tmp_path):
    # the gold reward gains only 5 points on b; rm_a becomes as good as the oracle on average
    found = check_task(load_runs(_store(tmp_path, gold_b=0.35, rm_a_b=0.55)), "mix")
    assert [p.holds for p in found] == [False, True, True, True, False, True]


def test_calibration_needs_categories_a_profile_and_the_reference_rows(tmp_path):
    root = _store(tmp_path)
    for folder in (root / "mix" / "correctness").iterdir():
        (folder / "metrics.json").unlink()  # unfinished: no correctness row
    assert calibration_report(load_runs(root)) == {}


def test_selection_curves_and_the_bandit_signal(tmp_path):
    rated = rated_runs(load_runs(_store(tmp_path)))
    curves = selection_curves(rated)
    assert set(curves["row"]) == {"LASeR (Ours)"}  # fixed-choice methods have no selection curve
    laser = curves.set_index("step")
    # steps: wrong (gap 0.9 - 0.6), right, right, wrong (gap 0.95 - 0.55)
    assert laser["selection_accuracy"].tolist() == pytest.approx([0.0, 0.5, 2 / 3, 0.5])
    assert laser["cumulative_regret"].tolist() == pytest.approx([0.3, 0.3, 0.3, 0.7])
    assert laser["seeds"].tolist() == [2, 2, 2, 2]
    signal = signal_rows(rated).iloc[0]
    assert signal["steps"] == 8 and signal["rho_mab_reward"] == pytest.approx(0.6)  # ranks off by one at every step
    assert signal["rho_neg_loss"] == pytest.approx(0.6)


def test_the_report_writes_the_diagnostics_and_the_calibration(tmp_path):
    written = {p.name for p in write_report(_store(tmp_path), tmp_path / "report")}
    assert {"calibration.md", "calibration.json", "selection_vs_step.csv", "selection_vs_step_mix.png",
            "bandit_signal.md", "profile_mix_auc.md", "profile_mix_pairwise.md"} <= written
    readme = (tmp_path / "report" / "README.md").read_text()
    assert "mix: 6 of 6 hold" in readme
