"""The sweep runner: grid expansion, overrides, errors, skipping, resume, locks, failures, executors."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.commands.status import sweep_status
from harness.config.errors import ConfigError
from harness.run.in_store import execute_in_store
from harness.store.layout import DONE, PENDING, RUNNING
from harness.store.run_folder import run_lock, run_state
from harness.sweep.executors.registry import build_executor
from harness.sweep.expand import expand, load_sweep
from harness.sweep.run_sweep import run_sweep

from conftest import tiny_run_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _sweep_file(tmp_path, tiny_models, data_dir, **changes) -> Path:
    base = tiny_run_config(tiny_models, data_dir, tmp_path)
    task = base.pop("task")
    for key in ("method", "seed", "out"):
        base.pop(key)
    base["train"]["max_steps_per_iteration"] = 1
    sweep = {"name": "tiny", "base": base, "tasks": [task], "seeds": [0, 1],
             "methods": [{"name": "laser"}, {"name": "random_rm"}]}
    sweep.update(changes)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


def test_grid_expansion_with_axes_and_method_overrides(tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir,
                       methods=[{"name": "laser"}, {"name": "sequential_rm", "overrides": {"train.iterations": 3}}],
                       grid={"train.beta": [0.1, 0.3]},
                       policies=[{"name": "p1", "model": tiny_models["policy"]}, {"name": "p2", "model": tiny_models["rm_a"]}])
    specs = expand(load_sweep(path), tmp_path / "out")
    assert len(specs) == 2 * 2 * 2 * 2  # methods x policies x beta x seeds
    assert len({s.folder for s in specs}) == len(specs)
    seq = [s for s in specs if s.method_label == "sequential_rm"]
    assert {s.config.train.iterations for s in seq} == {3}
    assert {s.config.train.iterations for s in specs if s.method_label == "laser"} == {1}
    assert {(s.axes["policy"], s.axes["train.beta"]) for s in specs} == {(p, b) for p in ("p1", "p2") for b in (0.1, 0.3)}
    assert all(s.config.train.beta == s.axes["train.beta"] for s in specs)
    one = specs[0]
    assert one.folder == tmp_path / "out" / "tiny" / one.run_id
    assert one.run_id.startswith("gsm8k/laser@policy=p1,train.beta=0.1/seed")


def test_a_method_that_overrides_a_grid_key_is_pinned_on_that_axis(tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0],
                       methods=[{"name": "sft", "overrides": {"train.start": "base"}}, {"name": "random_rm"}],
                       grid={"train.start": ["base", "sft"], "train.beta": [0.1, 0.3]})
    specs = expand(load_sweep(path), tmp_path / "out")
    by_method = {label: sorted((s.run_id, s.config.train.start, s.config.train.beta) for s in specs if s.method_label == label)
                 for label in ("sft", "random_rm")}
    assert by_method["sft"] == [("gsm8k/sft@train.beta=0.1/seed0", "base", 0.1), ("gsm8k/sft@train.beta=0.3/seed0", "base", 0.3)]
    assert sorted((start, beta) for _, start, beta in by_method["random_rm"]) == [("base", 0.1), ("base", 0.3), ("sft", 0.1), ("sft", 0.3)]
    assert all("train.start" not in s.axes for s in specs if s.method_label == "sft")


def test_overrides_beat_the_sweep_yaml(tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir)
    sweep = load_sweep(path, ["seeds=[4]", "base.train.beta=0.5"])
    specs = expand(sweep, tmp_path / "out")
    assert {s.seed for s in specs} == {4} and {s.config.train.beta for s in specs} == {0.5}


def test_unknown_keys_fail_with_suggestions(tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir, metods=[])
    with pytest.raises(ConfigError, match="unknown key 'metods'. Did you mean 'methods'"):
        load_sweep(path)
    path = _sweep_file(tmp_path, tiny_models, data_dir, methods=[{"name": "laser", "args": {"bandt": "exp3"}}])
    with pytest.raises(ConfigError, match=r"\[gsm8k/laser/seed0\].*method.args.bandt.*Did you mean 'bandit'"):
        expand(load_sweep(path), tmp_path / "out")
    path = _sweep_file(tmp_path, tiny_models, data_dir, methods=[{"name": "laser"}, {"name": "laser"}])
    with pytest.raises(ConfigError, match="labels must be unique"):
        load_sweep(path)


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_sweep_parses(path):
    specs = expand(load_sweep(path), "/tmp/harness-parse-only", source=str(path), check_data=False)
    assert specs and len({s.folder for s in specs}) == len(specs)


def test_sweep_skips_finished_runs_isolates_failures_and_reports(tmp_path, tiny_models, data_dir, capsys):
    broken = tmp_path / "broken-model"  # exists, so it passes validation, but holds no model: the run fails
    broken.mkdir()
    path = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0],
                       methods=[{"name": "laser"}, {"name": "random_rm", "overrides": {"policy.model": str(broken)}}])
    out = tmp_path / "results"
    assert main(["sweep", str(path), "--out", str(out)]) == 1  # one failed run: non-zero exit
    root = out / "tiny"
    error = json.loads((root / "gsm8k/random_rm/seed0/error.json").read_text())
    assert error["traceback"].startswith("Traceback") and error["error"]
    summary = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  FAILED")]
    assert summary == [f"  FAILED {root / 'gsm8k/random_rm/seed0'}: {error['error'].splitlines()[0]} "
                       f"(traceback in {root / 'gsm8k/random_rm/seed0'}/error.json, log {root / 'gsm8k/random_rm/seed0'}/run.log)"]
    assert (root / "gsm8k/laser/seed0/metrics.json").exists()
    assert (root / "report" / "table1.md").exists()
    first = (root / "gsm8k/laser/seed0/metrics.json").stat().st_mtime_ns
    capsys.readouterr()
    run_sweep(str(path), [], str(out), build_executor())
    assert "1 already finished" in capsys.readouterr().out
    assert (root / "gsm8k/laser/seed0/metrics.json").stat().st_mtime_ns == first
    sweep_status(root)
    status = capsys.readouterr().out
    assert "done" in status and "failed" in status and "total: done 1, failed 1" in status


def _comparable(folder: Path) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("train_seconds", "total_seconds"):
        metrics.pop(key)
    rows = [json.loads(line) for line in (folder / "iterations.jsonl").read_text().splitlines()]
    for row in rows:
        row.pop("seconds")
    steps = [json.loads(line) for line in (folder / "selections.jsonl").read_text().splitlines()]
    return {"metrics": metrics, "iterations": rows, "selections": steps,
            "predictions": (folder / "predictions.jsonl").read_text()}


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, tiny_models, data_dir):
    from harness.loop.run_config import build_run_config

    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "laser", "args": {"bandit": "exp3"}})
    data["train"].update(iterations=3, max_steps_per_iteration=2)
    data["reward_models"].append({"name": "noisy", "kind": "noisy", "base": "rm_a", "sigma": 0.5})
    data["out"] = str(tmp_path / "straight")
    execute_in_store(build_run_config(data), threads=1)
    data["out"] = str(tmp_path / "killed")
    config_path = tmp_path / "killed.yaml"
    config_path.write_text(yaml.safe_dump(data))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    code = ("import torch, sys; torch.set_num_threads(1); from harness.loop.run_config import load_run_config; "
            "from harness.run.execute import execute_run; execute_run(load_run_config(sys.argv[1]), progress=False)")
    process = subprocess.Popen([sys.executable, "-c", code, str(config_path)], env=env)
    checkpoint = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists() and not (tmp_path / "killed" / "metrics.json").exists()
    assert run_state(tmp_path / "killed") == "partial"
    assert execute_in_store(build_run_config(data), threads=1)["status"] == "done"
    assert "resuming after iteration" in (tmp_path / "killed" / "run.log").read_text()
    assert _comparable(tmp_path / "killed") == _comparable(tmp_path / "straight")


def _hold_lock(folder: str, ready, release) -> None:
    with run_lock(Path(folder)) as held:
        assert held
        ready.set()
        release.wait(30)


@pytest.mark.slow
def test_a_locked_run_is_not_run_twice(tmp_path, tiny_models, data_dir):
    from harness.loop.run_config import build_run_config

    config = build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path))
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(config.out, ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        assert run_state(Path(config.out)) == RUNNING
        assert execute_in_store(config)["status"] == "busy"
        assert not (Path(config.out) / "metrics.json").exists()
    finally:
        release.set()
        holder.join(30)
    assert run_state(Path(config.out)) == PENDING
    assert execute_in_store(config)["status"] == "done"
    assert run_state(Path(config.out)) == DONE
    assert execute_in_store(config)["status"] == "skipped"


def _two_configs(tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0], methods=[{"name": "laser"}, {"name": "single_rm"}])
    return [s.config for s in expand(load_sweep(path), tmp_path / "out")]


@pytest.mark.slow
def test_local_process_pool_executor(tmp_path, tiny_models, data_dir):
    configs = _two_configs(tmp_path, tiny_models, data_dir)
    results = list(build_executor("local", workers=2).run(configs))
    assert sorted(r["status"] for r in results) == ["done", "done"]
    assert all((Path(c.out) / "metrics.json").exists() for c in configs)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ray", "submitit"])
def test_cluster_executor_runs_a_two_run_sweep(engine, tmp_path, tiny_models, data_dir):
    pytest.importorskip(engine, reason="the cluster extra is not installed (pip install -e '.[cluster]')")
    configs = _two_configs(tmp_path, tiny_models, data_dir)
    executor = (build_executor("ray", workers=2) if engine == "ray" else
                build_executor("slurm", cluster="local", folder=str(tmp_path / "submitit")))
    results = list(executor.run(configs))
    assert sorted(r["status"] for r in results) == ["done", "done"]
    assert all((Path(c.out) / "metrics.json").exists() for c in configs)


def test_compare_section_is_checked_when_the_sweep_loads(tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir)
    data = yaml.safe_load(path.read_text())
    for judge, message in (({"kind": "gpt"}, "compare.judge.kind: unknown judge 'gpt'"),
                           ({"kind": "lm"}, "compare.judge.model: required"),
                           ({"kind": "reward_model"}, "compare.judge.reward_model: required")):
        data["compare"] = {"judge": judge, "pairs": [["laser", "random_rm"]]}
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(ConfigError, match=message):
            load_sweep(path)
    data["compare"] = {"judge": {"kind": "lm", "model": tiny_models["rm_a"]}, "pairs": [["laser", "nope"]]}
    path.write_text(yaml.safe_dump(data))
    from harness.sweep.comparisons import run_comparisons

    sweep = load_sweep(path)
    with pytest.raises(ConfigError, match=r"compare.pairs: \['laser', 'nope'\] must name two method labels"):
        run_comparisons(sweep, expand(sweep, tmp_path / "out", check_data=False), tmp_path / "out")


@pytest.mark.parametrize("damage", ["truncated", "other_seed"])
def test_an_untrustworthy_result_counts_as_unfinished_and_is_redone(tmp_path, tiny_models, data_dir, damage):
    """A truncated metrics.json (a crash mid-write by another tool, a full disk) or one that names another
    run's seed is not a result: status and report do not count it, one warning names it, and the next
    execution keeps it aside and redoes the run."""
    from harness.loop.run_config import build_run_config
    from harness.report.runs import load_runs

    config = build_run_config(tiny_run_config(tiny_models, data_dir, tmp_path))
    folder = Path(config.out)
    assert execute_in_store(config)["status"] == "done"
    good = (folder / "metrics.json").read_text()
    if damage == "truncated":
        (folder / "metrics.json").write_text(good[: len(good) // 2])
    else:
        (folder / "metrics.json").write_text(good.replace('"seed": 0', '"seed": 7', 1))
    with pytest.warns(RuntimeWarning, match="counts as unfinished"):
        assert run_state(folder) != DONE
    (tmp_path / "sweep.json").write_text(json.dumps({"runs": [{"run_id": "r", "out": str(folder)}]}))
    assert not load_runs(tmp_path)["finished"].any()
    assert execute_in_store(config)["status"] == "done"
    assert json.loads((folder / "metrics.json").read_text())["seed"] == 0
    kept = list(folder.glob("metrics.json.unreadable-*"))
    assert len(kept) == 1 and kept[0].read_text() != good
    assert run_state(folder) == DONE


def test_sweeps_on_one_store_merge_their_runs_and_a_conflicting_one_is_refused(tmp_path, tiny_models, data_dir):
    """A second sweep with other methods on the same --out keeps the first one's runs listed; one that would
    redo an existing run with other settings is refused in one line before any work."""
    first = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0], methods=[{"name": "random_rm"}])
    out = tmp_path / "out"
    assert main(["sweep", str(first), "--out", str(out), "--no-report"]) == 0
    second = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0], methods=[{"name": "sequential_rm"}])
    assert main(["sweep", str(second), "--out", str(out), "--no-report"]) == 0
    manifest = json.loads((out / "tiny" / "sweep.json").read_text())
    assert sorted(r["method"] for r in manifest["runs"]) == ["random_rm", "sequential_rm"]
    assert len(manifest["previous_sweeps"]) == 1
    assert main(["sweep", str(second), "--out", str(out), "--no-report"]) == 0  # a plain resume is no conflict
    manifest = json.loads((out / "tiny" / "sweep.json").read_text())

    changed = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0], methods=[{"name": "random_rm"}])
    with pytest.raises(ConfigError, match=r"random_rm/seed0 already exists with other settings \(train.learning_rate: 0.001 -> 0.5\)"):
        run_sweep(str(changed), ["base.train.learning_rate=0.5"], str(out), build_executor("local"))
    assert json.loads((out / "tiny" / "sweep.json").read_text()) == manifest  # nothing written


def test_an_unreadable_checkpoint_is_set_aside_and_the_run_restarts_cleanly(tmp_path, tiny_models, data_dir):
    from harness.loop.run_config import build_run_config

    data = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "laser", "args": {"bandit": "exp3"}})
    data["train"].update(iterations=2, max_steps_per_iteration=2)
    data["out"] = str(tmp_path / "straight")
    execute_in_store(build_run_config(data), threads=1)
    data["out"] = str(tmp_path / "damaged")
    (tmp_path / "damaged").mkdir()
    (tmp_path / "damaged" / "checkpoint.pt").write_bytes(b"PK\x03\x04 truncated by a full disk")
    with pytest.warns(RuntimeWarning, match="unreadable checkpoint"):
        assert execute_in_store(build_run_config(data), threads=1)["status"] == "done"
    assert len(list((tmp_path / "damaged").glob("checkpoint.pt.unreadable-*"))) == 1
    assert "resuming after iteration" not in (tmp_path / "damaged" / "run.log").read_text()
    assert _comparable(tmp_path / "damaged") == _comparable(tmp_path / "straight")


@pytest.mark.slow
def test_two_sweeps_started_together_on_one_store_run_each_run_once_and_end_with_one_complete_report(
        tmp_path, tiny_models, data_dir):
    path = _sweep_file(tmp_path, tiny_models, data_dir, seeds=[0, 1], methods=[{"name": "random_rm"}, {"name": "sequential_rm"}])
    out = tmp_path / "out"
    command = [sys.executable, "-m", "harness", "sweep", str(path), "--out", str(out)]
    root = Path(__file__).resolve().parents[2]
    sweeps = [subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    outputs = [s.communicate(timeout=600)[0] for s in sweeps]
    codes = sorted(s.returncode for s in sweeps)
    assert codes[0] == 0, outputs  # at least one sweep saw every run finished
    store = out / "tiny"
    runs = json.loads((store / "sweep.json").read_text())["runs"]
    assert len(runs) == 4 and all(run_state(store / r["run_id"]) == DONE for r in runs)
    executed = sum(len(re.findall(r"(?m)^\s*done\s", output.replace("\r", "\n"))) for output in outputs)
    assert executed == 4, outputs  # each run trained by exactly one of the two sweeps
    assert not (store / "report" / "INCOMPLETE.md").exists()
    assert "4 of 4 runs finished." in (store / "report" / "README.md").read_text()
