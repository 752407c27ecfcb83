"""LongBench long-context understanding (paper sec. 4.2, Table 2): inference only, best-of-n.

Four categories, as in the paper: single-document QA, multi-document QA, summarization and few-shot
learning. Records come from the hub (a Parquet copy of ``THUDM/LongBench``, one config per dataset, with
``context``, ``input`` or ``question``, and ``answers``) and are rendered with the paper's prompt for their category (appendix A.1),
or from local JSONL whose records carry either ``context``/``input`` or an already rendered ``prompt``
(e.g. MiniLongBench's). Scores follow the paper's Table 2: token F1 with LongBench's normalisation for
QA and few-shot learning, ROUGE-L for summarization; as in LongBench, few-shot predictions are cut at
their first line. Over-long prompts are truncated in the middle (``policy.truncation: middle``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, at_least
from harness.config.schema import TaskConfig
from harness.tasks.base import Example, Task, subsample_per_category
from harness.tasks.longbench_metrics import best_over_answers

CATEGORY_OF_DATASET = {
    "narrativeqa": "single_doc_qa", "qasper": "single_doc_qa", "multifieldqa_en": "single_doc_qa",
    "hotpotqa": "multi_doc_qa", "2wikimqa": "multi_doc_qa", "musique": "multi_doc_qa",
    "gov_report": "summarization", "qmsum": "summarization", "multi_news": "summarization",
    "trec": "few_shot", "triviaqa": "few_shot", "samsum": "few_shot",
}
CATEGORIES = ["single_doc_qa", "multi_doc_qa", "summarization", "few_shot"]
METRIC_OF_CATEGORY = {"single_doc_qa": "f1", "multi_doc_qa": "f1", "summarization": "rouge_l", "few_shot": "f1"}

# Paper appendix A.1, "Long-Context Understanding" ({context} and {input} are the record's fields).
_SINGLE_DOC_INSTRUCTION = (
    "Answer the question based on the above article as concisely as you can, using a single phrase or sentence if "
    "possible. If the question cannot be answered based on the information in the article, write \"unanswerable\". "
    "If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". Do not provide any explanation.")
PROMPTS = {
    "single_doc_qa": (
        "You are given a scientific article and a question. Answer the question as concisely as you can, using a single "
        "phrase or sentence if possible. If the question cannot be answered based on the information in the article, "
        "write \"unanswerable\". If the question is a yes/no question, answer \"yes\", \"no\", or \"unanswerable\". "
        "Do not provide any explanation.\n\nArticle: {context}\n\n" + _SINGLE_DOC_INSTRUCTION
        + "\n\nQuestion: {input}\n\nAnswer:"),
    "multi_doc_qa": (
        "Answer the question based on the given passages. Only give me the answer and do not output any other words. "
        "The following are given passages.\n\n{context}\n\nAnswer the question based on the given passages. Only give "
        "me the answer and do not output any other words.\n\nQuestion: {input}\nAnswer:"),
    "summarization": (
        "You are given several news passages. Write a one-page summary of all news.\n\nNews:\n{context}\n\n"
        "Now, write a one-page summary of all the news.\n\nSummary:"),
    "few_shot": (
        "Answer the question based on the given passage. Only give me the answer and do not output any other words. "
        "The following are some examples.\n\n{context}\n\nQuestion: {input}\n\nAnswer:"),
}


@dataclass
class LongBenchConfig:
    datasets: list[str] = field(default_factory=lambda: list(CATEGORY_OF_DATASET), metadata={
        "help": "LongBench datasets to use (hub configs / the records' 'task' or 'dataset' field)."})
    per_category: int | None = field(default=None, metadata={"help": "Subsample each category (paper: 5000).",
                                                             RANGE: at_least(1)})
    sample_seed: int = field(default=0, metadata={"help": "Seed of the per-category subsample (same for every run).",
                                                  RANGE: at_least(0)})
    hub_id: str = field(default="Xnhyacinth/LongBench", metadata={
        "help": "Parquet copy of THUDM/LongBench (one config per dataset, split test); THUDM/LongBench itself is a "
                "loading script, which datasets>=4 no longer runs."})


def _answers(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            parsed = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            parsed = value
        value = parsed if isinstance(parsed, (list, tuple)) else [value]
    if isinstance(value, dict):
        value = value["answers"]
    answers = [str(a) for a in value]
    if not answers:
        raise ValueError("no gold answers")
    return answers


class LongBench(Task):
    name = "longbench"
    description = "LongBench (English): single/multi-doc QA, summarization, few-shot; F1 / ROUGE-L, best-of-n"
    hub_id = "Xnhyacinth/LongBench"  # default of options.hub_id
    kind = "scored"
    Config = LongBenchConfig
    batch_by_category = True

    def __init__(self, options: LongBenchConfig | None = None):
        super().__init__(options)
        unknown = [d for d in self.options.datasets if d not in CATEGORY_OF_DATASET]
        if unknown:
            raise ConfigError(f"task.options.datasets: unknown LongBench datasets {unknown}; known: {sorted(CATEGORY_OF_DATASET)}")

    def from_record(self, record: dict[str, Any]) -> Example:
        dataset = record.get("task") or record.get("dataset")
        category = record.get("category") or CATEGORY_OF_DATASET[dataset]
        if category not in PROMPTS:
            raise ValueError(f"unknown category {category!r}; expected one of {CATEGORIES}")
        if "prompt" in record and record["prompt"]:
            prompt = record["prompt"]
        else:
            question = record["input"] if "input" in record else record["question"]
            prompt = PROMPTS[category].format(context=record["context"], input=question)
        identifier = record.get("id") or record.get("_id")
        return Example(id=str(identifier), question=prompt, gold="", category=category,
                       meta={"dataset": dataset, "answers": _answers(record["answers"])})

    def _hub_records(self) -> list[tuple[str, dict[str, Any]]]:
        from datasets import load_dataset

        rows = []
        for dataset in self.options.datasets:
            for i, row in enumerate(load_dataset(self.options.hub_id, dataset, split="test")):
                rows.append((f"{self.options.hub_id}[{dataset}] row {i}", {**dict(row), "dataset": dataset}))
        return rows

    def load(self, config: TaskConfig) -> list[Example]:
        examples = [e for e in super().load(config) if e.meta["dataset"] in self.options.datasets]
        if not examples:
            raise ConfigError(f"task longbench: no examples of datasets {self.options.datasets} in {config.path or self.hub_id}")
        return subsample_per_category(examples, CATEGORIES, self.options.per_category, self.options.sample_seed)

    def prompt(self, example: Example) -> str:
        return example.question

    def metric_name(self, category: str | None) -> str:
        return METRIC_OF_CATEGORY.get(category or "", "f1")

    def extract_answer(self, text: str, example: Example) -> str | None:
        if example.category == "few_shot":  # LongBench keeps the first line for its few-shot datasets
            return text.lstrip("\n").split("\n")[0]
        return text

    def score(self, text: str, example: Example) -> float:
        return best_over_answers(self.metric_name(example.category), self.extract_answer(text, example), example.meta["answers"])

    def is_correct(self, text: str, example: Example) -> bool:
        raise ValueError("longbench is scored with F1 / ROUGE-L, not right/wrong; use score()")
