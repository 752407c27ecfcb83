"""GSM8K (Cobbe et al., 2021): grade-school math word problems with a numeric final answer.

Hub: ``openai/gsm8k`` (config ``main``, train+test); locally the official JSONL (``question``, and
``answer`` ending in ``#### N``), optionally with a precomputed ``final_answer``.
"""

from __future__ import annotations

import re
from typing import Any

from harness.tasks.answers import extract_number, normalize_number, numbers_equal
from harness.tasks.base import Example, Task

CALCULATOR_ANNOTATION = re.compile(r"<<[^<>]*>>")


class GSM8K(Task):
    name = "gsm8k"
    description = "GSM8K grade-school math, numeric answers (accuracy)"
    hub_id = "openai/gsm8k"
    hub_config = "main"

    def from_record(self, record: dict[str, Any]) -> Example:
        solution = record["answer"]
        final = record.get("final_answer") or solution.rsplit("####", 1)[1]
        gold = normalize_number(str(final))
        if gold is None:
            raise ValueError(f"no number in the final answer {final!r}")
        return Example(str(record.get("id", "")), record["question"], gold, solution=solution)

    def demonstration(self, example: Example) -> str | None:
        """The dataset's worked solution in the prompt's format: calculator annotations (``<<48/2=24>>``) removed
        and the closing ``#### 72`` written as ``Final answer: 72``."""
        steps = CALCULATOR_ANNOTATION.sub("", example.solution.rsplit("####", 1)[0]).strip()
        return f"{steps}\nFinal answer: {example.gold}" if steps else f"Final answer: {example.gold}"

    def extract_answer(self, text: str, example: Example) -> str | None:
        return extract_number(text)

    def answer_key(self, prediction: str) -> str:
        return normalize_number(prediction) or prediction.strip()

    def answers_match(self, prediction: str | None, gold: str) -> bool:
        return numbers_equal(prediction, gold)
