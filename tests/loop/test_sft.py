"""The SFT baseline: supervised fine-tuning on each task's human-written responses (the world's correct
demonstrations, GSM8K's worked solutions, WildChat's first replies), distinct from the untrained Base row."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config.errors import ConfigError
from harness.loop.run_config import build_run_config
from harness.loop.supervised import check_demonstrations
from harness.tasks.base import Example
from harness.tasks.registry import get_task

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def test_demonstrations_are_written_in_the_prompts_answer_format():
    gsm8k = get_task("gsm8k")
    example = gsm8k.from_record({"question": "q", "answer": "She has 48/2 = <<48/2=24>>24 apples.\n#### 24"})
    assert gsm8k.demonstration(example) == "She has 48/2 = 24 apples.\nFinal answer: 24"
    assert gsm8k.is_correct(gsm8k.demonstration(example), example)
    mmlu = get_task("mmlu")
    question = Example("m", "Which?", "B", choices=["red", "blue"])
    assert mmlu.demonstration(question) == "Final answer: (B) blue" and mmlu.is_correct(mmlu.demonstration(question), question)
    wildchat = get_task("wildchat")
    hub_row = {"conversation": [{"role": "user", "content": "Write a haiku."}, {"role": "assistant", "content": " Leaves fall. "}]}
    assert wildchat.demonstration(wildchat.from_record(hub_row)) == "Leaves fall."
    assert wildchat.demonstration(wildchat.from_record({"prompt": "Write a haiku."})) is None
    assert wildchat.demonstration(wildchat.from_record({"prompt": "Hi", "response": "Hello!"})) == "Hello!"


def test_sft_is_refused_where_nothing_is_trained(tiny_models, data_dir, tmp_path):
    from tests.conftest import tiny_run_config

    config = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "sft"}, mode="best_of_n")
    with pytest.raises(ConfigError, match="method.name: 'sft' fine-tunes the policy on demonstrations"):
        build_run_config(config, check_data=False)


def test_sft_without_demonstrations_names_the_task():
    wildchat = get_task("wildchat")
    prompts = [wildchat.from_record({"prompt": f"Write poem {i}."}) for i in range(3)]
    with pytest.raises(ConfigError, match="no training example of task 'wildchat' \\(prompts.jsonl\\).*'response' field"):
        check_demonstrations(wildchat, prompts, "prompts.jsonl")
    check_demonstrations(wildchat, prompts + [wildchat.from_record({"prompt": "Hi", "response": "Hello!"})], "p.jsonl")


def test_sft_on_the_world_learns_the_demonstrations_and_is_its_own_row(default_world, tmp_path):
    from harness.cli import main

    overrides = ["tasks=[{name: synth_mix, split_sizes: [16, 2, 40]}]", "methods=[{name: base}, {name: sft}]",
                 "base.train.iterations=2", "base.train.max_steps_per_iteration=4", "base.train.learning_rate=2e-3"]
    assert main(["sweep", str(EXPERIMENTS / "small_world.yaml"), *overrides, "--out", str(tmp_path)]) == 0
    root = tmp_path / "small_world" / "synth_mix"
    base, sft = (json.loads((root / label / "seed0" / "metrics.json").read_text()) for label in ("base", "sft"))
    steps = [json.loads(line) for line in (root / "sft" / "seed0" / "selections.jsonl").read_text().splitlines()]
    assert len(steps) == 8 and all(s["reward_model"] == "demonstrations" and s["skipped_prompts"] == 0 for s in steps)
    assert {s["num_demonstrations"] for s in steps} <= {6, 4}   # 16 per family: batches of 6, 6 and 4
    assert all(s["num_pairs"] == 0 and s["reward_models"] == [] for s in steps)
    assert all(0.0 < s["loss"] < 5.0 for s in steps)   # per-token NLL of the demonstrations
    # the world's demonstrations are correct solutions, and the start policy is a mediocre imitation of them
    assert sft["test"]["accuracy"] > base["test"]["accuracy"] + 0.05
    table = (tmp_path / "small_world" / "report" / "table1.md").read_text()
    rows = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")]
    assert rows.index("Base") < rows.index("SFT")
