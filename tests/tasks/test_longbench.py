"""LongBench: metrics on known values, prompt rendering, real MiniLongBench rows, middle truncation."""

from __future__ import annotations

import json

import pytest

from harness.config.errors import ConfigError
from harness.config.schema import TaskConfig
from harness.models.tokens import truncate_tokens
from harness.tasks.longbench import CATEGORIES, PROMPTS
from harness.tasks.longbench_metrics import best_over_answers, normalize_answer, rouge_l, token_f1
from harness.tasks.registry import get_task

from conftest import OPEN_TASK_DATA


def test_normalisation_drops_case_punctuation_articles_and_spaces():
    assert normalize_answer("The  Eiffel Tower, in Paris!") == "eiffel tower in paris"
    assert normalize_answer("An apple a day") == "apple day"


def test_token_f1_known_values():
    assert token_f1("Paris", "paris.") == 1.0
    assert token_f1("the cat sat", "a dog sat") == pytest.approx(0.5)        # 1 common of 2 and 2 tokens
    assert token_f1("new york city", "york") == pytest.approx(2 * (1 / 3) * 1 / (1 / 3 + 1))
    assert token_f1("nothing", "else") == 0.0
    assert token_f1("", "else") == 0.0
    assert best_over_answers("f1", "blue whale", ["shark", "the blue whale"]) == 1.0


def test_rouge_l_known_values():
    # LCS "the cat on the mat" = 5 of 6 tokens each way
    assert rouge_l("the cat sat on the mat", "the cat lay on the mat") == pytest.approx(5 / 6)
    assert rouge_l("a b c d", "d c b a") == pytest.approx(0.25)
    assert rouge_l("identical words here", "identical words here") == 1.0


def test_records_with_context_get_the_papers_prompt_and_gold_scores():
    task = get_task("longbench")
    record = {"_id": "x1", "dataset": "hotpotqa", "context": "Passage 1: Paris is in France.", "input": "Where is Paris?",
              "answers": ["France"]}
    example = task.from_record(record)
    assert example.category == "multi_doc_qa"
    assert example.question == PROMPTS["multi_doc_qa"].format(context=record["context"], input=record["input"])
    assert "Only give me the answer" in example.question and example.question.endswith("Answer:")
    assert task.score("France.", example) == 1.0 and task.gold_reward("It is in France", example) == pytest.approx(0.4)  # P 1/4, R 1
    few_shot = task.from_record({"id": "t", "dataset": "triviaqa", "context": "Q: a\nA: b", "input": "c", "answers": ["d"]})
    assert task.extract_answer("\nd\nQuestion: more text", few_shot) == "d"  # first line only, as LongBench
    summary = task.from_record({"id": "s", "dataset": "gov_report", "context": "report", "input": "", "answers": ["a b c"]})
    assert task.metric_name(summary.category) == "rouge_l"


def test_unknown_dataset_option_fails_with_the_known_names():
    with pytest.raises(ConfigError, match="unknown LongBench datasets"):
        get_task("longbench", {"datasets": ["hotpot"]})


def test_real_minilongbench_rows_split_per_category(data_dir):
    config = TaskConfig(name="longbench", path=str(data_dir / OPEN_TASK_DATA["longbench"]))
    task = get_task("longbench")
    examples = task.load(config)
    assert len(examples) == 119 and sorted({e.category for e in examples}) == sorted(CATEGORIES)
    for example in examples[:20]:  # the gold answers score full marks
        assert task.score(example.meta["answers"][0], example) == pytest.approx(1.0)
    splits = task.splits(config, seed=0)
    for split in (splits.train, splits.dev, splits.test):
        assert {e.category for e in split} == set(CATEGORIES)
    assert len(splits.train) + len(splits.dev) + len(splits.test) == 119
    only_qa = get_task("longbench", {"datasets": ["hotpotqa", "qasper"], "per_category": 5})
    picked = only_qa.load(config)
    assert {e.meta["dataset"] for e in picked} == {"hotpotqa", "qasper"} and len(picked) == 10


def test_bad_local_record_names_file_and_line(tmp_path):
    path = tmp_path / "lb.jsonl"
    path.write_text(json.dumps({"id": "a", "dataset": "hotpotqa", "answers": ["x"]}) + "\n")  # no prompt, no context
    with pytest.raises(ConfigError, match=r"lb.jsonl:1: not a longbench record"):
        get_task("longbench").load(TaskConfig(name="longbench", path=str(path)))


def test_middle_truncation_keeps_both_ends():
    ids = list(range(10))
    assert truncate_tokens(ids, 4, "middle") == [0, 1, 8, 9]
    assert truncate_tokens(ids, 5, "middle") == [0, 1, 7, 8, 9]
    assert truncate_tokens(ids, 4, "left") == [6, 7, 8, 9]
    assert truncate_tokens(ids, 20, "middle") == ids


def test_records_with_a_question_field_render_too():
    task = get_task("longbench")
    example = task.from_record({"_id": "q", "dataset": "qasper", "context": "Article text.", "question": "What is it?",
                                "answers": ["text"]})
    assert example.question == PROMPTS["single_doc_qa"].format(context="Article text.", input="What is it?")
