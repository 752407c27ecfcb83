"""CommonsenseQA (Talmor et al., 2019): five-option commonsense questions (the paper's OOD task).

Hub: ``tau/commonsense_qa`` (validation split; the test split has no labels); locally JSONL with
``question``, ``choices`` (a list, or the hub's ``{"label", "text"}``) and ``answer``/``answerKey``.
"""

from __future__ import annotations

from typing import Any

from harness.tasks.base import Example
from harness.tasks.multiple_choice import MultipleChoiceTask, letter_of


class CommonsenseQA(MultipleChoiceTask):
    name = "commonsenseqa"
    description = "CommonsenseQA five-option questions, out of distribution (accuracy)"
    hub_id = "tau/commonsense_qa"
    hub_splits = ("validation",)

    def from_record(self, record: dict[str, Any]) -> Example:
        choices = record["choices"]
        if isinstance(choices, dict):
            choices = choices["text"]
        choices = [str(c) for c in choices]
        answer = record.get("answer", record.get("answerKey"))
        return Example(str(record.get("id", "")), record["question"], letter_of(answer, len(choices)), choices=choices)
