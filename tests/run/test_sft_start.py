"""Preference training from the SFT policy (``train.start: sft``): the SFT stage is exactly an ``sft`` run's training,
trained once and reused from the cache, merged into the policy; the refusals at config load; the report's rows."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace

import pytest
import torch

from harness.config.errors import ConfigError
from harness.config.schema import MethodConfig, ProfileConfig
from harness.loop.run_config import build_run_config
from harness.loop.supervised import SupervisedLoop
from harness.models.policy import Policy
from harness.models.start import StartPolicy, merged_model
from harness.profile.build import measure_profile, profile_path
from harness.report.runs import load_runs
from harness.report.write import write_report
from harness.run.execute import execute_run
from harness.run.sft_start import ensure_sft_stage, stage_config, stage_folder
from harness.store.run_folder import run_lock

from conftest import stored_config, tiny_run_config


def _config(tiny_models, data_dir, tmp_path, name: str, method: str, start: str, **train):
    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": method, "args": {}})
    data["policy"]["lora"]["dropout"] = 0.1   # the SFT stage's dropout draws must be the sft run's too
    data["train"].update({"iterations": 2, "max_steps_per_iteration": 1, "learning_rate": 1e-2, "start": start, **train})
    data["out"], data["cache_dir"] = str(tmp_path / name), str(tmp_path / "cache")
    return build_run_config(data)


def _steps(monkeypatch) -> list[int]:
    """Counts the supervised steps taken from now on (the SFT stage's, or an sft run's)."""
    taken, step = [], SupervisedLoop.run_step
    monkeypatch.setattr(SupervisedLoop, "run_step", lambda self, *args: taken.append(1) or step(self, *args))
    return taken


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_the_sft_stage_is_an_sft_runs_training_trained_once_and_reused(tiny_models, data_dir, tmp_path, monkeypatch):
    sft = _config(tiny_models, data_dir, tmp_path, "sft", "sft", "base")
    sft_metrics = execute_run(sft, progress=False)
    sft_adapter = torch.load(tmp_path / "sft" / "checkpoint.pt", weights_only=False)["adapter"]
    steps = _steps(monkeypatch)
    laser = _config(tiny_models, data_dir, tmp_path, "laser", "laser", "sft")
    laser_metrics = execute_run(laser, progress=False)
    assert len(steps) == 2   # the stage: 2 iterations x 1 step
    stage = stage_folder(laser)
    assert stage.parent == tmp_path / "cache" / "sft_stages"
    stage_adapter = torch.load(stage / "checkpoint.pt", weights_only=False)["adapter"]
    assert stage_adapter.keys() == sft_adapter.keys()
    assert all(torch.equal(stage_adapter[name], sft_adapter[name]) for name in sft_adapter)
    stage_metrics = json.loads((stage / "metrics.json").read_text())
    assert stage_metrics["test"] == sft_metrics["test"]
    assert _lines(stage / "predictions.jsonl") == _lines(tmp_path / "sft" / "predictions.jsonl")
    assert laser_metrics["start"]["from"] == "sft" and laser_metrics["start"]["stage"] == stage.name
    assert laser_metrics["start"]["stage_test"]["accuracy"] == sft_metrics["test"]["accuracy"]
    assert json.loads((tmp_path / "laser" / "config.json").read_text())["config"]["train"]["start"] == "sft"
    assert "start" not in sft_metrics   # a run from the base model records none (its config: start 'base')
    # a second method of the same task and seed reuses the stage; the 'base' method evaluates the SFT policy itself
    base = _config(tiny_models, data_dir, tmp_path, "base_from_sft", "base", "sft")
    base_metrics = execute_run(base, progress=False)
    assert len(steps) == 2 and stage_folder(base) == stage
    assert base_metrics["steps"] == 0 and base_metrics["start"]["stage"] == stage.name


def test_a_run_from_sft_differs_from_a_run_from_base(tiny_models, data_dir, tmp_path):
    from_base = execute_run(_config(tiny_models, data_dir, tmp_path, "from_base", "random_rm", "base"), progress=False)
    from_sft = execute_run(_config(tiny_models, data_dir, tmp_path, "from_sft", "random_rm", "sft"), progress=False)
    base_losses = [s["loss"] for s in _lines(tmp_path / "from_base" / "selections.jsonl")]
    sft_losses = [s["loss"] for s in _lines(tmp_path / "from_sft" / "selections.jsonl")]
    assert len(base_losses) == len(sft_losses) == 2 and None not in base_losses + sft_losses
    assert base_losses != sft_losses   # other samples, other likelihoods: the policy started elsewhere
    assert "start" not in from_base and from_sft["start"]["from"] == "sft"


def test_the_merged_policy_is_the_sft_policy(tiny_models, data_dir, tmp_path):
    """A fresh LoRA (B = 0) on the merged weights computes what the SFT policy's adapter computes; its reference too."""
    config = _config(tiny_models, data_dir, tmp_path, "unused", "laser", "base")
    torch.manual_seed(3)
    sft = Policy(config.policy)
    with torch.no_grad():
        for param in sft.trainable_parameters():
            param.add_(0.05 * torch.randn_like(param))
    started = Policy(config.policy, merged_model(config.policy, sft.adapter_state()), start={"from": "test"})
    ids = torch.tensor([sft.encode_prompts(["Natalia sold clips to 48 of her friends."])[0]])
    sft.model.eval()
    started.model.eval()
    with torch.no_grad():
        expected = sft.model(input_ids=ids).logits
        assert torch.allclose(started.model(input_ids=ids).logits, expected, atol=1e-5)
        with started.reference() as reference:
            assert torch.allclose(reference(input_ids=ids).logits, expected, atol=1e-5)
        assert not torch.allclose(Policy(config.policy).model(input_ids=ids).logits, expected, atol=1e-3)
    assert started.identity != sft.identity and started.identity["start"] == {"from": "test"}


def test_the_stage_is_keyed_by_what_it_trains_and_waited_for_while_another_process_trains_it(tiny_models, data_dir, tmp_path):
    laser = _config(tiny_models, data_dir, tmp_path, "laser", "laser", "sft")
    stage = stage_config(laser)
    assert (stage.method.name, stage.mode, stage.train.start, stage.profile, stage.eval.lm_eval) == ("sft", "train", "base", None, None)
    same = replace(laser, method=MethodConfig("random_rm", {}), out=str(tmp_path / "other"), best_rm="rm_b")
    assert stage_folder(same) == stage_folder(laser)
    for other in (replace(laser, seed=1), replace(laser, train=replace(laser.train, learning_rate=2e-2)),
                  replace(laser, policy=replace(laser.policy, lora=replace(laser.policy.lora, r=2)))):
        assert stage_folder(other) != stage_folder(laser)
    folder, trained, found = stage_folder(laser), [], []
    weights = {"w": torch.ones(2)}
    with run_lock(folder) as held:   # "another process" holds the stage
        assert held
        waiting = threading.Thread(target=lambda: found.append(ensure_sft_stage(laser, trained.append, poll_seconds=0.02)))
        waiting.start()
        time.sleep(0.3)
        assert waiting.is_alive() and not trained and not found
        torch.save({"adapter": weights}, folder / "checkpoint.pt")   # ... and finishes it
        (folder / "metrics.json").write_text(json.dumps({"method": "sft", "test": {"accuracy": 0.5}}))
    waiting.join(timeout=10)
    assert not trained and torch.equal(found[0].weights["w"], weights["w"])
    assert found[0].record["stage_test"] == {"accuracy": 0.5} and found[0].record["stage"] == folder.name


def test_a_run_from_sft_is_rated_against_the_profile_of_the_sft_policy(tiny_models, data_dir, tmp_path):
    laser = replace(_config(tiny_models, data_dir, tmp_path, "laser", "laser", "sft"), profile=ProfileConfig(max_prompts=3))
    execute_run(laser, progress=False)
    stage = stage_folder(laser)
    stored = json.loads((tmp_path / "laser" / "profile.json").read_text())
    assert stored["start"] == {"from": "sft", "stage": stage.name}
    weights = torch.load(stage / "checkpoint.pt", weights_only=False)["adapter"]
    start = StartPolicy(weights, {"from": "sft", "stage": stage.name})
    assert profile_path(laser, start=start) != profile_path(laser)   # keyed by the stage too
    assert profile_path(laser, start=start).exists() and not profile_path(laser).exists()
    again = measure_profile(laser, progress=False, start=start)
    assert again["categories"] == stored["categories"]   # the SFT policy's samples, measured again
    from_base = measure_profile(laser, progress=False)
    assert "start" not in from_base and from_base["categories"] != stored["categories"]


def test_sft_from_sft_is_refused_at_config_load(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "sft", "args": {}})
    data["train"]["start"] = "sft"
    with pytest.raises(ConfigError, match=r"^<config>: train.start: 'sft' starts from the sft method's result, which "
                                          r"method 'sft' would fine-tune .* use train.start: base") as error:
        build_run_config(data, check_data=False)
    assert "\n" not in str(error.value)
    data["method"]["name"], data["profile"] = "laser", {"max_prompts": 4}
    assert build_run_config(data, check_data=False).profile is not None  # measured on the SFT policy
    data["train"]["start"] = "sfft"
    with pytest.raises(ConfigError, match="train.start"):
        build_run_config(data, check_data=False)


def _write(root, label: str, method: str, args: dict, start: str | None, accuracy: float, runs: list) -> None:
    """A finished run as a sweep with the grid axis ``train.start: [base, sft]`` writes it (None: no such axis)."""
    axes = {"train.start": start} if start else {}
    run_id = f"gsm8k/{label}{'@train.start=' + start if start else ''}/seed0"
    folder = root / run_id
    folder.mkdir(parents=True)
    train = {"loss": "dpo_nll", **({"start": start} if start else {})}
    config = {"method": {"name": method, "args": args}, "best_rm": "rm_a", "policy": {"model": "p"}, "train": train,
              "task": {"name": "gsm8k"}, "seed": 0}
    (folder / "config.json").write_text(json.dumps(stored_config(config)))
    (folder / "metrics.json").write_text(json.dumps({"test": {"accuracy": accuracy}}))
    runs.append({"run_id": run_id, "task": "gsm8k", "method": label, "seed": 0, "axes": axes})


def test_the_report_names_the_runs_from_sft(tmp_path):
    root, runs = tmp_path / "store", []
    _write(root, "laser", "laser", {}, None, 0.40, runs)             # a store written before train.start existed
    _write(root, "laser", "laser", {}, "sft", 0.50, runs)
    _write(root, "base", "base", {}, "sft", 0.45, runs)
    _write(root, "rm-a", "single_rm", {"rm": "rm_a"}, "base", 0.30, runs)
    _write(root, "rm-a", "single_rm", {"rm": "rm_a"}, "sft", 0.35, runs)
    (root / "sweep.json").write_text(json.dumps({"name": "s", "runs": runs}))
    frame = load_runs(root)
    assert dict(zip(frame["run_id"], frame["start_suffix"])) == {
        "gsm8k/laser/seed0": "", "gsm8k/laser@train.start=sft/seed0": " [from SFT]", "gsm8k/base@train.start=sft/seed0":
        " [from SFT]", "gsm8k/rm-a@train.start=base/seed0": "", "gsm8k/rm-a@train.start=sft/seed0": " [from SFT]"}
    write_report(root, tmp_path / "report")
    rows = {}
    for name in ("table1", "table4"):
        for line in (tmp_path / "report" / f"{name}.md").read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if line.startswith("| ") and cells[0] != "Method":
                rows[cells[0]] = cells[1].strip("*").replace("<u>", "").replace("</u>", "")
    assert rows["LASeR (Ours)"] == "40.00" and rows["LASeR (Ours) [from SFT]"] == "50.00"
    assert rows["Base [from SFT]"] == "45.00"
    assert rows["RM: rm_a"] == "30.00" and rows["RM: rm_a [from SFT]"] == "35.00"
    assert rows["Best RM"] == "30.00" and rows["Best RM [from SFT]"] == "35.00"


def test_a_sweep_over_both_starts_trains_the_stage_once_and_reports_both(tmp_path, tiny_models, data_dir, capsys):
    import yaml

    from harness.cli import main

    base = tiny_run_config(tiny_models, data_dir, tmp_path)
    task = base.pop("task")
    for key in ("method", "seed", "out"):
        base.pop(key)
    base["train"].update({"max_steps_per_iteration": 1, "learning_rate": 1e-2})
    base["profile"] = {"max_prompts": 3}
    sweep = {"name": "starts", "base": base, "tasks": [task], "seeds": [0], "grid": {"train.start": ["base", "sft"]},
             "methods": [{"name": "base"}, {"name": "random_rm"}, {"name": "single_rm", "label": "rm-a", "args": {"rm": "rm_a"}}]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    root = tmp_path / "out" / "starts"
    stages = list((root / ".cache" / "sft_stages").iterdir())
    assert len(stages) == 1 and (stages[0] / "metrics.json").exists()
    # the base policy's profile is measured before the runs start; the SFT policy's by the first run that needs it
    assert "profile gsm8k: RM competence" in printed.split("sweep starts: 6 runs")[0]
    started = [json.loads((root / "gsm8k" / f"{label}@train.start=sft" / "seed0" / "metrics.json").read_text())["start"]
               for label in ("base", "random_rm", "rm-a")]
    assert {s["stage"] for s in started} == {stages[0].name}
    profiles = {start: json.loads((root / "gsm8k" / f"rm-a@train.start={start}" / "seed0" / "profile.json").read_text())
                for start in ("base", "sft")}
    assert profiles["sft"]["start"]["stage"] == stages[0].name and "start" not in profiles["base"]
    rows = [line.split("|")[1].strip() for line in (root / "report" / "table1.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| Method")]
    assert {"Base", "Base [from SFT]", "Random RM Selection", "Random RM Selection [from SFT]", "Best RM",
            "Best RM [from SFT]"} <= set(rows)
