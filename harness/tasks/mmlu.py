"""MMLU (Hendrycks et al., 2021): four-option questions over 57 subjects.

Hub: ``cais/mmlu`` (config ``all``, test split); locally JSONL with ``question``, ``choices`` (4) and
``answer`` as a letter or 0-based index.
"""

from __future__ import annotations

from typing import Any

from harness.tasks.base import Example
from harness.tasks.multiple_choice import MultipleChoiceTask, letter_of


class MMLU(MultipleChoiceTask):
    name = "mmlu"
    description = "MMLU four-option questions over 57 subjects (accuracy)"
    hub_id = "cais/mmlu"
    hub_config = "all"
    hub_splits = ("test",)

    def from_record(self, record: dict[str, Any]) -> Example:
        choices = [str(c) for c in record["choices"]]
        if len(choices) != 4:
            raise ValueError(f"expected 4 choices, got {len(choices)}")
        return Example(str(record.get("id", "")), record["question"], letter_of(record["answer"], 4), choices=choices,
                       category=record.get("subject"))
