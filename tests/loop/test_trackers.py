"""Experiment trackers: a tiny run logs to TensorBoard, MLflow (local file store) and W&B (offline); each is
read back and checked against the run's own records (selections.jsonl, metrics.json)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from mlflow.tracking import MlflowClient
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from harness.common.selection_log import annotate_selections, selection_metrics
from harness.config.errors import ConfigError
from harness.loop.run_config import build_run_config
from harness.loop.trackers.run_tracking import RunTracking, final_metrics, hyperparameters
from harness.run.execute import execute_run

from conftest import tiny_run_config


@pytest.fixture
def tracked_run(tiny_models, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "laser", "args": {}}, log=["tensorboard", "mlflow", "wandb"])
    data["train"].update(iterations=2, max_steps_per_iteration=2)
    data["profile"] = {"max_prompts": 4, "resamples": 20}
    config = build_run_config(data)
    metrics = execute_run(config, progress=False)
    out = tmp_path / "run"
    steps = [json.loads(line) for line in (out / "selections.jsonl").read_text().splitlines()]
    return config, metrics, steps, out


def test_every_tracker_holds_the_runs_steps_config_and_final_metrics(tracked_run):
    config, metrics, steps, out = tracked_run
    final = final_metrics(metrics)
    assert final["test/accuracy"] == metrics["test"]["accuracy"] and len(steps) == 4

    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    losses = {e.step: e.value for e in events.Scalars("train/loss")}
    assert losses == pytest.approx({s["step"]: s["loss"] for s in steps if s["loss"] is not None})
    rewards = {e.step: e.value for e in events.Scalars("bandit/mab_reward")}
    assert rewards == pytest.approx({s["step"]: s["mab_reward"] for s in steps if s["mab_reward"] is not None})
    for step in steps:  # the chosen RM: share 1 at its step; its scores' mean and std are logged there
        assert {e.step: e.value for e in events.Scalars(f"selection/{step['reward_model']}")}[step["step"]] == 1.0
        assert f"rewards/{step['reward_model']}/mean" in scalars and f"rewards/{step['reward_model']}/std" in scalars
    assert {e.step: e.value for e in events.Scalars("train/pairs")} == {s["step"]: s["num_pairs"] for s in steps}
    # the tiny models answer nothing right, so the profile rates no RM: no regret, as in the run's metrics
    assert "selection" not in metrics and "selection/regret" not in scalars
    assert events.Scalars("test/accuracy")[0].value == pytest.approx(metrics["test"]["accuracy"])  # with the hparams
    assert [e.step for e in events.Scalars("iteration/train_loss")] == [1, 3]  # at each iteration's last step

    client = MlflowClient(tracking_uri=(out / "mlruns").resolve().as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("harness").experiment_id])
    assert run.info.run_name == "/".join(out.parts[-3:]) and run.info.status == "FINISHED"
    assert run.data.params["train.learning_rate"] == str(config.train.learning_rate)
    assert run.data.params["method.name"] == "laser" and run.data.params["seed"] == "0"
    history = {m.step: m.value for m in client.get_metric_history(run.info.run_id, "train/loss")}
    assert history == pytest.approx(losses)
    assert run.data.metrics["final/test/accuracy"] == pytest.approx(metrics["test"]["accuracy"])

    # W&B 0.31 reads its offline transaction log (run-*.wandb) only in its Go core; the log holds each key and
    # each value's JSON text, so the logged losses, the config and the final metrics are found in it verbatim
    (log,) = (out / "wandb").glob("offline-run-*/run-*.wandb")
    data = log.read_bytes()
    for key in (b"train/loss", b"bandit/mab_reward", b"train.learning_rate", b"final/test/accuracy", b"rewards/"):
        assert key in data, key
    for step in steps:
        assert json.dumps(step["loss"]).encode() in data, step["loss"]


def test_hyperparameters_are_the_flat_resolved_config(tiny_models, data_dir, tmp_path):
    config = build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "laser", "args": {"alpha": 0.3}}))
    flat = hyperparameters(config)
    assert flat["method.args.alpha"] == 0.3 and flat["train.batch_size"] == 4 and flat["task.name"] == "gsm8k"
    assert all(isinstance(value, (bool, int, float, str)) for value in flat.values())
    assert flat["reward_models"].startswith("[{")  # a list becomes its text


def test_an_unknown_or_missing_tracker_is_one_clear_error(tiny_models, data_dir, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="log\\[0\\]: unknown tracker 'tensorbord'. Did you mean 'tensorboard'"):
        build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path, log=["tensorbord"]))
    with pytest.raises(ConfigError, match="each tracker must be listed once"):
        build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path, log=["mlflow", "mlflow"]))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a))
    with pytest.raises(ConfigError, match=r"log\[1\]: tracker 'wandb' needs the package 'wandb', which is not installed "
                                          r"\(the trackers extra: pip install -e '.\[trackers\]'\)"):
        build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path, log=["tensorboard", "wandb"]))


def test_running_selection_accuracy_and_regret_are_the_runs_own():
    aucs = {"c1": {"rm_a": 0.9, "rm_b": 0.2}, "c2": {"rm_a": 0.1, "rm_b": 0.8}}
    profile = {"reward_models": ["rm_a", "rm_b"], "best_rm": {"c1": "rm_a", "c2": "rm_b"},
               "categories": {c: {"reward_models": {rm: {"auc": a} for rm, a in v.items()}} for c, v in aucs.items()}}
    steps = [{"step": 0, "reward_model": "rm_a", "category": "c1", "loss": 1.0, "mab_reward": 0.5, "num_pairs": 3},
             {"step": 1, "reward_model": "rm_a", "category": "c2", "loss": 0.9, "mab_reward": 0.0, "num_pairs": 2},
             {"step": 2, "reward_model": "rm_a", "category": None, "loss": None, "num_pairs": 0,  # a router's step
              "routes": [{"prompt": 0, "reward_model": "rm_a", "category": "c1", "mab_reward": 1.0},
                         {"prompt": 1, "reward_model": "rm_b", "category": "c2", "mab_reward": None}]}]
    tracking = RunTracking([], ["rm_a", "rm_b"], profile)
    values = [tracking.step_values(step, {"rm_a": (0.25, 0.5)}) for step in steps]
    # step 2: both routed prompts chose their category's best RM (share 1): (1 + 0 + 1) / 3
    assert [v["selection/accuracy"] for v in values] == pytest.approx([1.0, 0.5, 2 / 3])
    assert [v["selection/regret"] for v in values] == pytest.approx([0.0, 0.7, 0.7])
    assert values[0]["train/loss"] == 1.0 and "train/loss" not in values[2] and values[2]["bandit/mab_reward"] == 1.0
    assert values[2]["selection/rm_a"] == values[2]["selection/rm_b"] == 0.5 and values[1]["selection/rm_b"] == 0.0
    assert values[0]["rewards/rm_a/mean"] == 0.25 and values[0]["rewards/rm_a/std"] == 0.5
    metrics = selection_metrics(annotate_selections(steps, profile))
    assert values[-1]["selection/accuracy"] == pytest.approx(metrics["selection_accuracy"])
    assert values[-1]["selection/regret"] == pytest.approx(metrics["regret"])
    resumed = RunTracking([], ["rm_a", "rm_b"], profile)
    resumed.resume(steps[:2])
    assert resumed.step_values(steps[2], {}) == {k: v for k, v in values[2].items() if not k.startswith("rewards/")}
