"""StrategyQA (Geva et al., 2021): yes/no questions that need implicit multi-step reasoning.

Hub: ``ChilleD/StrategyQA`` (train+test); locally any JSONL with ``question`` and a boolean ``answer``
(the official release format; ``facts`` become the worked gold solution).
"""

from __future__ import annotations

from typing import Any

from harness.tasks.answers import extract_yes_no
from harness.tasks.base import Example, Task


class StrategyQA(Task):
    name = "strategyqa"
    description = "StrategyQA yes/no multi-hop questions (accuracy)"
    hub_id = "ChilleD/StrategyQA"

    def from_record(self, record: dict[str, Any]) -> Example:
        answer = record["answer"]
        if isinstance(answer, str):
            answer = {"true": True, "yes": True, "false": False, "no": False}[answer.strip().lower()]
        if not isinstance(answer, bool):
            raise ValueError(f"answer must be a boolean, got {answer!r}")
        facts = record.get("facts") or []
        if isinstance(facts, str):
            facts = [facts]
        gold = "yes" if answer else "no"
        solution = (" ".join(facts) + f"\nFinal answer: {gold}").strip()
        return Example(str(record.get("id") or record.get("qid")), record["question"], gold, solution=solution)

    def extract_answer(self, text: str, example: Example) -> str | None:
        return extract_yes_no(text)
