"""Each task on real rows from the shared data folder: loading, prompts, splits and answer extraction."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.config.schema import TaskConfig
from harness.tasks.base import REASONING_PROMPT
from harness.tasks.registry import TASKS, get_task

from conftest import OPEN_TASK_DATA, TASK_DATA


@pytest.fixture(scope="module", params=sorted(TASK_DATA))
def loaded(request, data_dir):
    task = get_task(request.param)
    return task, task.load(TaskConfig(name=request.param, path=str(data_dir / TASK_DATA[request.param])))


def test_every_registered_dataset_task_has_real_data():
    real = [name for name in TASKS.names() if not name.startswith("synth_")]
    assert sorted(TASK_DATA) == [name for name in real if TASKS.get(name).kind == "accuracy"]
    assert sorted(OPEN_TASK_DATA) == [name for name in real if TASKS.get(name).kind != "accuracy"]


def test_gold_solutions_extract_to_the_gold_answer(loaded):
    task, examples = loaded
    correct = [task.is_correct(task.gold_solution(e), e) for e in examples]
    assert np.mean(correct) == 1.0, [e.id for e, ok in zip(examples, correct) if not ok][:5]


def test_solutions_of_other_examples_with_other_answers_are_wrong(loaded):
    task, examples = loaded
    rng = np.random.default_rng(0)
    checked = 0
    for example in examples[:500]:
        other = examples[int(rng.integers(len(examples)))]
        if task.answers_match(other.gold, example.gold):
            continue
        assert not task.is_correct(task.gold_solution(other), example)
        checked += 1
    assert checked > 100


def test_prompt_is_the_papers_reasoning_prompt(loaded):
    task, examples = loaded
    prompt = task.prompt(examples[0])
    assert prompt.startswith(REASONING_PROMPT.split("{input}")[0])
    assert examples[0].question in prompt and prompt.endswith("Solution:")
    for i, choice in enumerate(examples[0].choices):
        assert f"({'ABCDE'[i]}) {choice}" in prompt


def test_default_splits_are_seeded_and_70_10_20(loaded, data_dir):
    task, _ = loaded
    config = TaskConfig(name=task.name, path=str(data_dir / TASK_DATA[task.name]), max_examples=200)
    a, b, c = task.splits(config, 0), task.splits(config, 0), task.splits(config, 1)
    assert (len(a.train), len(a.dev), len(a.test)) == (140, 20, 40)
    assert [e.id for e in a.train] == [e.id for e in b.train]
    assert [e.id for e in a.train] != [e.id for e in c.train]
    ids = [e.id for e in a.train + a.dev + a.test]
    assert len(set(ids)) == len(ids)


def test_bad_rows_name_the_file_and_line(tmp_path):
    path = tmp_path / "gsm8k.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "x #### 3"}) + "\n{not json\n")
    with pytest.raises(ConfigError, match=r"gsm8k.jsonl:2: invalid JSON"):
        get_task("gsm8k").load(TaskConfig(name="gsm8k", path=str(path)))
    path.write_text(json.dumps({"question": "q"}) + "\n")
    with pytest.raises(ConfigError, match=r"gsm8k.jsonl:1: not a gsm8k record .*'answer'"):
        get_task("gsm8k").load(TaskConfig(name="gsm8k", path=str(path)))


def test_parquet_files_load_like_jsonl(tmp_path, data_dir):
    import pandas as pd

    rows = [json.loads(line) for line in (data_dir / "mmlu" / "dev.jsonl").read_text().splitlines()[:10]]
    pd.DataFrame(rows).to_parquet(tmp_path / "mmlu.parquet")
    examples = get_task("mmlu").load(TaskConfig(name="mmlu", path=str(tmp_path / "mmlu.parquet")))
    assert [e.gold for e in examples] == [r["answer"] for r in rows]
