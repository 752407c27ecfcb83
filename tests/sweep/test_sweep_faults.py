"""kill -9 of a multi-worker sweep at three moments (while the world is built, while runs train, while the
report is written), then resume: no process of the killed sweep is left within seconds, and every run's
metrics, selections and predictions, and the report's tables, equal those of an uninterrupted sweep.

About 5 minutes (one world build from an empty cache, four small sweeps with two workers); the world it
builds is the session's (``world_cache``): it runs first (marker ``world_builder``), so the other world tests
reuse it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MARK = "HARNESS_FAULT_TEST_MARK"

SWEEP = """name: faults
setup:
  world: {}
base:
  policy:
    model: "world:policy"
    lora: {r: 4, alpha: 8, dropout: 0.0}
    max_prompt_tokens: 128
  reward_models:
    - {name: rm_count, kind: loglik, model: "world:rm_count"}
    - {name: rm_facts, kind: loglik, model: "world:rm_facts"}
    - {name: rm_choice, kind: loglik, model: "world:rm_choice"}
  train: {iterations: 2, batch_size: 6, max_steps_per_iteration: 2, num_samples: 4, temperature: 0.8,
          max_new_tokens: 24, pairs_per_prompt: 1, learning_rate: 1.0e-3, micro_batch_size: 32}
  eval: {max_new_tokens: 24, batch_size: 60, dev_every_iteration: false}
tasks:
  - {name: synth_mix, split_sizes: [24, 3, 20]}
methods:
  - {name: base}
  - {name: laser}
  - {name: random_rm}
seeds: [0, 1]
"""
RUNS = [f"synth_mix/{method}/seed{seed}" for method in ("base", "laser", "random_rm") for seed in (0, 1)]


def _processes_marked(mark: str) -> list[int]:
    """Live processes (not zombies) whose environment carries ``mark``: the sweep and everything it started."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"{MARK}={mark}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            if "State:\tZ" in (entry / "status").read_text():
                continue
        except OSError:  # gone meanwhile, or not ours
            continue
        found.append(int(entry.name))
    return found


class Sweep:
    def __init__(self, tmp_path: Path, cache: Path, out: str):
        self.out = tmp_path / out
        self.root = self.out / "faults"
        self.config = tmp_path / "faults.yaml"
        self.config.write_text(SWEEP)
        self.cache = cache
        self.mark = uuid.uuid4().hex
        self.log = tmp_path / f"{out}.log"

    def command(self) -> list[str]:
        return [sys.executable, "-m", "harness", "sweep", str(self.config), "--out", str(self.out), "--workers", "2"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "HARNESS_CACHE": str(self.cache), MARK: self.mark, "OMP_NUM_THREADS": "1"}

    def start(self) -> subprocess.Popen:
        return subprocess.Popen(self.command(), cwd=ROOT, env=self.env(), stdout=self.log.open("w"), stderr=subprocess.STDOUT)

    def run_to_end(self) -> None:
        self.mark = uuid.uuid4().hex
        result = subprocess.run(self.command(), cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=1200)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert _processes_marked(self.mark) == []

    def kill_when(self, moment, what: str, timeout: float = 900) -> None:
        """Start the sweep, SIGKILL its main process when ``moment()`` holds, and check that every process it
        started is gone within 15 s."""
        process = self.start()
        try:
            deadline = time.monotonic() + timeout
            while not moment():
                assert process.poll() is None, f"the sweep ended before {what}:\n{self.log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"never reached {what}"
                time.sleep(0.02)
            started = _processes_marked(self.mark)
            assert len(started) > 1, f"at {what} the sweep should have worker processes, found {started}"
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            deadline = time.monotonic() + 15
            while _processes_marked(self.mark) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _processes_marked(self.mark) == [], f"processes of the sweep killed at {what} are still running"
        finally:
            if process.poll() is None:
                process.kill()
            for pid in _processes_marked(self.mark):
                os.kill(pid, signal.SIGKILL)


def comparable(folder: Path) -> dict:
    """A run's results without its timings and cache hit counts (a resumed run finds some of its work cached);
    the base model's runs have no iterations or selections."""
    metrics = json.loads((folder / "metrics.json").read_text())
    for key in ("train_seconds", "total_seconds", "shared_cache"):
        metrics.pop(key, None)
    files = {name: (folder / name).read_text() if (folder / name).exists() else None
             for name in ("iterations.jsonl", "selections.jsonl", "predictions.jsonl")}
    iterations = [json.loads(line) for line in (files.pop("iterations.jsonl") or "").splitlines()]
    for row in iterations:
        row.pop("seconds", None)
    return {"metrics": metrics, "iterations": iterations, **files}


def assert_same_results(sweep: Sweep, reference: Sweep) -> None:
    for run in RUNS:
        assert comparable(sweep.root / run) == comparable(reference.root / run), run
    for table in ("table1.md", "wilcoxon.md"):
        assert (sweep.root / "report" / table).read_text() == (reference.root / "report" / table).read_text(), table
    assert not (sweep.root / "report" / "INCOMPLETE.md").exists()
    leftovers = [p.name for p in sweep.root.iterdir() if p.name.startswith((".report.writing-", ".report.previous-"))]
    assert leftovers == [], f"the killed report left {leftovers}"


@pytest.mark.world_builder
def test_sweep_killed_at_three_moments_leaves_no_process_and_resumes_to_the_same_results(tmp_path, world_cache):
    # the session's world cache when nothing has built the world there yet (the world built here serves the
    # later tests); otherwise a private, empty one
    cache = world_cache if not (world_cache / "world").exists() else tmp_path / "cache"
    world = cache / "world"

    # 1. while the world is built (from an empty cache): the builder processes die too; the resume rebuilds it
    at_build = Sweep(tmp_path, cache, "at_build")
    at_build.kill_when(lambda: (any(world.glob(".*.building")) or any(world.glob(".models/.training-*/*")))
                       and len(_processes_marked(at_build.mark)) >= 3, "the world build")
    assert not any(world.glob("*/report.json")), "a killed build must not be published"
    assert not [m for m in world.glob(".models/[!.]*") if not (m / "measured.json").exists()], "nor a half-trained model"
    at_build.run_to_end()

    reference = Sweep(tmp_path, cache, "reference")
    reference.run_to_end()
    assert_same_results(at_build, reference)

    # 2. while runs train: some finished, others not
    mid_run = Sweep(tmp_path, cache, "mid_run")
    mid_run.kill_when(lambda: any(mid_run.root.glob("*/*/*/metrics.json")), "mid-run")
    finished = [run for run in RUNS if (mid_run.root / run / "metrics.json").exists()]
    assert 0 < len(finished) < len(RUNS)
    mid_run.run_to_end()
    assert_same_results(mid_run, reference)

    # 3. while the report is written: no report/ is left half-written; the resume writes the whole one
    at_report = Sweep(tmp_path, cache, "at_report")
    at_report.kill_when(lambda: any(at_report.root.glob(".report.writing-*")), "the report")
    assert all((at_report.root / run / "metrics.json").exists() for run in RUNS)
    assert not (at_report.root / "report").exists()
    at_report.run_to_end()
    assert_same_results(at_report, reference)
