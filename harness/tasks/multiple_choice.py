"""Shared behaviour of the multiple-choice tasks: options in the prompt, letter answers."""

from __future__ import annotations

from harness.tasks.answers import extract_choice
from harness.tasks.base import LETTERS, Example, Task


class MultipleChoiceTask(Task):
    def extract_answer(self, text: str, example: Example) -> str | None:
        return extract_choice(text, example.choices, LETTERS[: len(example.choices)])

    def answer_key(self, prediction: str) -> str:
        return prediction.strip().upper()

    def answers_match(self, prediction: str | None, gold: str) -> bool:
        return prediction is not None and prediction.strip().upper() == gold.strip().upper()

    def gold_solution(self, example: Example) -> str:
        index = LETTERS.index(example.gold)
        return f"Final answer: ({example.gold}) {example.choices[index]}"


def letter_of(answer: object, num_choices: int) -> str:
    """An answer given as a letter or a 0-based index, as a letter."""
    if isinstance(answer, bool):
        raise ValueError(f"answer must be a letter or an index, got {answer!r}")
    if isinstance(answer, int):
        if not 0 <= answer < num_choices:
            raise ValueError(f"answer index {answer} outside 0..{num_choices - 1}")
        return LETTERS[answer]
    letter = str(answer).strip().upper()
    if letter not in LETTERS[:num_choices]:
        raise ValueError(f"answer {answer!r} is not one of {LETTERS[:num_choices]}")
    return letter
