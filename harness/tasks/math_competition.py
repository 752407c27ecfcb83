"""MATH (Hendrycks et al., 2021): competition problems with LaTeX answers (the paper's OOD task).

Hub: ``HuggingFaceH4/MATH-500`` (test); locally JSONL with ``problem`` and ``answer`` and/or a
``solution`` whose last ``\\boxed{}`` holds the answer.
"""

from __future__ import annotations

from typing import Any

from harness.tasks.answers import extract_math, last_boxed, math_equal, normalize_math
from harness.tasks.base import Example, Task


class MATH(Task):
    name = "math"
    description = "MATH competition problems, boxed LaTeX answers, out of distribution (accuracy)"
    hub_id = "HuggingFaceH4/MATH-500"
    hub_splits = ("test",)

    def from_record(self, record: dict[str, Any]) -> Example:
        solution = record.get("solution", "")
        answer = record.get("answer") or last_boxed(solution)
        if not answer:
            raise ValueError("no answer field and no \\boxed{} answer in the solution")
        return Example(str(record.get("id") or record.get("unique_id", "")), record["problem"], str(answer),
                       solution=solution, category=record.get("subject"))

    def extract_answer(self, text: str, example: Example) -> str | None:
        return extract_math(text)

    def answer_key(self, prediction: str) -> str:
        return normalize_math(prediction)

    def answers_match(self, prediction: str | None, gold: str) -> bool:
        return math_equal(prediction, gold)
