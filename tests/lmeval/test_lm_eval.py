"""lm-evaluation-harness on trained world policies: with the same prompts, greedy decoding and answer check,
lm-eval's responses and accuracy equal the harness's own evaluation example by example; the report shows both."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.config.errors import ConfigError
from harness.store.runs import finished_run_folders as finished_runs

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _check_against_the_harness(run, trained: bool) -> list[str]:
    """lm-eval's own-split results of ``run`` equal its predictions example by example; returns the responses."""
    results = json.loads((run / "lm_eval.json").read_text())
    assert (run / "adapter" / "adapter_config.json").exists() == trained  # the base row is the base model itself
    own = results["tasks"][results["harness_task"]]
    predictions = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(own["examples"]) == len(predictions) == 60
    assert [e["id"] for e in own["examples"]] == [p["id"] for p in predictions]
    assert [e["response"] for e in own["examples"]] == [p["response"] for p in predictions], run
    assert [e["score"] for e in own["examples"]] == [float(p["correct"]) for p in predictions]
    metrics = json.loads((run / "metrics.json").read_text())
    assert own["metrics"]["acc"] == pytest.approx(metrics["test"]["accuracy"])
    same = results["harness_comparison"]
    assert same["examples"] == same["same_responses"] == 60 and same["harness_accuracy"] == same["lm_eval_accuracy"]
    return [e["response"] for e in own["examples"]]


def test_lm_eval_equals_the_harness_evaluation_on_the_worlds_test_set(default_world, tmp_path):
    overrides = ["seeds=[0]", "tasks=[{name: synth_mix, split_sizes: [40, 4, 20]}]",
                 "methods=[{name: base}, {name: laser}]", "base.train.iterations=1", "base.train.max_steps_per_iteration=3",
                 "base.profile=null", "base.eval.lm_eval={}"]
    assert main(["sweep", str(EXPERIMENTS / "quickstart.yaml"), *overrides, "--out", str(tmp_path), "--no-report"]) == 0
    root = tmp_path / "quickstart"
    laser = root / "synth_mix" / "laser" / "seed0"
    _check_against_the_harness(root / "synth_mix" / "base" / "seed0", trained=False)
    in_run = _check_against_the_harness(laser, trained=True)  # the adapter saved from the policy in memory
    metrics = json.loads((laser / "metrics.json").read_text())
    assert metrics["lm_eval"]["harness_synth_mix"]["acc"] == pytest.approx(metrics["test"]["accuracy"])
    assert metrics["lm_eval"]["harness_comparison"]["same_responses"] == 60
    shutil.rmtree(laser / "adapter")
    (laser / "lm_eval.json").unlink()
    assert main(["lm-eval", str(laser)]) == 0  # a stored run: the adapter comes from its last checkpoint
    assert _check_against_the_harness(laser, trained=True) == in_run
    assert main(["report", str(root), "--out", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "lm_eval.md").read_text()
    assert "lm-eval harness_synth_mix" in table and "LASeR (Ours)" in table and "Base" in table


def test_lm_eval_needs_finished_runs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no finished run to evaluate"):
        finished_runs(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no run or sweep folder there"):
        finished_runs(tmp_path / "missing")
    assert main(["lm-eval", str(tmp_path / "empty"), "--limit", "0"]) == 2
