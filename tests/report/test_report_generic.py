"""Reporting is generic over methods: every selecting method is in the utilisation, MAB-reward and
selection outputs, the significance tests' target comes from the sweep (``report.target``) or ``--target``, rows
take the name and rank the method class declares (recorded in each run's config.json when it starts), and no
method is named in the reporting code."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.cli import main
from harness.config.errors import ConfigError
from harness.report.write import write_report
from harness.selection.registry import METHODS
from harness.sweep.expand import load_sweep

from conftest import stored_config

REPORT_CODE = Path(__file__).resolve().parents[2] / "harness" / "report"
PLUGIN = '''
from harness.selection.method import BatchContext, Declaration, Method, Reporting, RewardChoice


class Alternate(Method):
    """rm_a, rm_b, rm_a, ... (a selecting method the harness does not know)."""

    description = "alternates between the reward models"
    declared = Declaration(report=Reporting(row="Alternating", variant_row="Alternating [{label}]", rank=95))

    def select(self, context: BatchContext) -> RewardChoice:
        return RewardChoice((self.reward_models[context.step % len(self.reward_models)],))
'''


@pytest.fixture(autouse=True)
def restore_methods(monkeypatch):
    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))
    monkeypatch.setattr(METHODS, "_loaded", dict(METHODS._loaded))


def _run(root: Path, runs: list, label: str, method: str, args: dict, seed: int, accuracy: float,
         choices: list[str], mab: list[float] | None = None, recorded: bool = True) -> None:
    run_id = f"gsm8k/{label}/seed{seed}"
    folder = root / run_id
    folder.mkdir(parents=True)
    config = {"method": {"name": method, "args": args}, "best_rm": "rm_a", "policy": {"model": "tiny"},
              "train": {"loss": "dpo_nll"}, "task": {"name": "gsm8k"}, "seed": seed}
    (folder / "config.json").write_text(json.dumps(stored_config(config) if recorded else {"config": config}))
    counts = {rm: choices.count(rm) for rm in set(choices)}
    (folder / "metrics.json").write_text(json.dumps({"schema_version": 1, "test": {"accuracy": accuracy},
                                                     "train_seconds": 3.0, "selection_counts": counts}))
    steps = [{"reward_model": rm, "category": "c1" if i % 2 else "c2", **({"mab_reward": mab[i]} if mab else {})}
             for i, rm in enumerate(choices)]
    (folder / "selections.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    runs.append({"run_id": run_id, "task": "gsm8k", "method": label, "seed": seed, "axes": {}, "out": str(folder)})


def _store(root: Path, report: dict | None = None, record_plugin: bool = True) -> Path:
    runs: list = []
    for seed in range(6):
        _run(root, runs, "laser", "laser", {}, seed, 0.50 + 0.01 * seed, ["rm_a", "rm_b", "rm_a", "rm_a"], [0.1, 0.2, 0.3, 0.4])
        _run(root, runs, "alt", "plugin_alternate:Alternate", {}, seed, 0.60 + 0.02 * seed, ["rm_a", "rm_b", "rm_a", "rm_b"],
             recorded=record_plugin)
        _run(root, runs, "rm-a", "single_rm", {"rm": "rm_a"}, seed, 0.40, ["rm_a"] * 4)
        _run(root, runs, "rm-b", "single_rm", {"rm": "rm_b"}, seed, 0.30, ["rm_b"] * 4)
        _run(root, runs, "base", "base", {}, seed, 0.20, [])
    sweep = {"name": "generic", "report": report} if report is not None else {"name": "generic"}
    (root / "sweep.json").write_text(json.dumps({"name": "generic", "sweep": sweep, "runs": runs}))
    return root


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    (tmp_path / "plugin_alternate.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("plugin_alternate", None)


def _rows(path: Path) -> list[str]:
    return [line.split("|")[1].strip() for line in path.read_text().splitlines()[4:] if line.startswith("| ")]


def test_every_selecting_method_is_in_the_utilisation_and_mab_outputs_and_rows_follow_the_class(tmp_path, plugin):
    report = tmp_path / "report"
    write_report(_store(tmp_path / "store"), report)
    rows = _rows(report / "table1.md")
    assert rows == ["Base", "Best RM", "Avg. RM", "Alternating [alt]", "LASeR (Ours)"]  # by Reporting.rank
    assert _rows(report / "table4.md") == ["RM: rm_a", "RM: rm_b"]
    shares = pd.read_csv(report / "fig_utilisation.csv")
    assert sorted(shares["row"].unique()) == ["Alternating [alt]", "LASeR (Ours)"]  # fixed choices are not shown
    alternating = shares[shares["row"] == "Alternating [alt]"].set_index("reward_model")["share"]
    assert alternating.to_dict() == {"rm_a": 50.0, "rm_b": 50.0}
    laser = shares[shares["row"] == "LASeR (Ours)"].set_index("reward_model")["share"]
    assert laser.to_dict() == {"rm_a": 75.0, "rm_b": 25.0}
    by_category = pd.read_csv(report / "utilisation_by_category.csv")
    assert set(by_category["row"]) == {"Alternating [alt]", "LASeR (Ours)"}
    mab = pd.read_csv(report / "fig_mab_reward.csv")  # only LASeR records a MAB reward here
    assert set(mab["row"]) == {"LASeR (Ours)"}
    assert mab[mab["reward_model"] == "rm_a"]["mab_reward"].round(6).tolist() == [0.1, 0.3, 0.4]
    points = pd.read_csv(report / "fig_accuracy_vs_time.csv")
    assert {"Alternating [alt]", "LASeR (Ours)", "Base"} <= set(points["row"])
    wilcoxon = pd.read_csv(report / "wilcoxon.csv")  # default target: laser
    assert set(wilcoxon["target"]) == {"LASeR (Ours)"}
    assert set(wilcoxon["baseline"]) == {"Base", "Best RM", "Avg. RM", "Alternating [alt]"}


def test_the_sweeps_report_target_and_the_target_flag_choose_the_tested_rows(tmp_path, plugin):
    store = _store(tmp_path / "store", report={"target": ["alt"]})
    write_report(store, tmp_path / "report")
    wilcoxon = pd.read_csv(tmp_path / "report" / "wilcoxon.csv")
    assert set(wilcoxon["target"]) == {"Alternating [alt]"}
    beats_laser = wilcoxon[wilcoxon["baseline"] == "LASeR (Ours)"].iloc[0]
    assert beats_laser["n"] == 6 and beats_laser["p_value"] == pytest.approx(0.5 ** 6)  # all six seeds favour alt
    assert main(["report", str(store), "--out", str(tmp_path / "r2"), "--target", "laser", "--target", "alt"]) == 0
    both = pd.read_csv(tmp_path / "r2" / "wilcoxon.csv")
    assert set(both["target"]) == {"Alternating [alt]", "LASeR (Ours)"}
    with pytest.raises(ConfigError, match="--target: unknown method label 'lasr'. Did you mean 'laser'"):
        write_report(store, tmp_path / "r3", targets=["lasr"])


def test_a_run_without_a_reporting_record_is_reported_under_its_label_as_a_selecting_method(tmp_path):
    store = _store(tmp_path / "store", record_plugin=False)  # as in an older store; the plug-in is not on the path here
    write_report(store, tmp_path / "report")  # the report reads files only: it never imports the plug-in
    assert "plugin_alternate" not in sys.modules
    assert _rows(tmp_path / "report" / "table1.md") == ["Base", "Best RM", "Avg. RM", "alt", "LASeR (Ours)"]  # rank 90
    assert "alt" in set(pd.read_csv(tmp_path / "report" / "fig_utilisation.csv")["row"])


def test_a_sweeps_report_target_must_name_one_of_its_methods(tmp_path):
    sweep = {"name": "s", "tasks": [{"name": "gsm8k"}], "seeds": [0],
             "methods": [{"name": "laser"}, {"name": "random_rm", "label": "rr"}]}
    path = tmp_path / "s.yaml"
    for target, ok in (("rr", True), (["laser", "random_rm"], True), ("lasr", False), ([], False)):
        path.write_text(yaml.safe_dump({**sweep, "report": {"target": target}}))
        if ok:
            assert load_sweep(path).report.targets() == ([target] if isinstance(target, str) else target)
        else:
            with pytest.raises(ConfigError, match="report.target"):
                load_sweep(path)
    path.write_text(yaml.safe_dump(sweep))
    assert load_sweep(path).report.targets() == ["laser"]


def test_no_method_is_named_in_the_reporting_code():
    names = METHODS.names()
    for path in sorted(REPORT_CODE.glob("*.py")):
        code = path.read_text()
        for name in names:
            assert not re.search(rf"""["']{re.escape(name)}["']""", code), f"{path.name} names the method {name!r}"
        assert "startswith(\"LASeR" not in code and "startswith(\"RM: " not in code, path.name
