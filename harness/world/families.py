"""Procedurally generated task families with gold answers, and correct / systematically buggy solutions.

- ``count``: count one letter in a short string ("Q: count x in xoexxo"); the bug counts the o's.
- ``facts``: look-up in a small generated knowledge base given in the prompt ("Q: tam=red kel=blue. kel?");
  the bug answers with the first-listed entity's value.
- ``choice``: pick the largest of four single-digit options ("Q: max (A)3 (B)8 (C)1 (D)5"); the bug picks
  the last option.
Each problem knows its correct solution and its buggy one, so the world can train a mediocre policy on a
mix, reward models on chosen mixtures, and measure every RM's ranking accuracy exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAMILIES = ("count", "facts", "choice")
COLOURS = ("red", "blue", "green", "black", "white", "pink", "gold", "grey")
SYLLABLES = ("ta", "ke", "ro", "mi", "zu", "pa", "lo", "ne", "si", "du", "ga", "vo")


@dataclass(frozen=True)
class Problem:
    family: str
    id: str
    prompt: str
    answer: str
    correct: str        # a correct solution ending in "Final answer: <answer>"
    buggy: str          # a systematically wrong solution (its answer may coincide with the right one)
    choices: tuple[str, ...] = ()

    @property
    def buggy_answer(self) -> str:
        return self.buggy.rsplit("Final answer: ", 1)[1]


def _count(rng: np.random.Generator, index: int) -> Problem:
    while True:
        letters = "".join(rng.choice(["x", "o", "e"], size=int(rng.integers(6, 10))))
        count, wrong = letters.count("x"), letters.count("o")
        if count != wrong:  # the bug (counting the other letter) is always wrong
            break
    prompt = f"Q: count x in {letters}\nA:"
    correct = f" {count} Final answer: {count}"
    buggy = f" {wrong} Final answer: {wrong}"
    return Problem("count", f"count-{index}", prompt, str(count), correct, buggy)


def _name(rng: np.random.Generator) -> str:
    return "".join(rng.choice(SYLLABLES, size=2))


def _facts(rng: np.random.Generator, index: int) -> Problem:
    names: list[str] = []
    while len(names) < 3:
        name = _name(rng)
        if name not in names:
            names.append(name)
    values = [str(v) for v in rng.choice(COLOURS, size=3, replace=False)]
    asked = int(rng.integers(1, 3))  # never the first entity, so the bug is always wrong
    facts = " ".join(f"{n}={v}" for n, v in zip(names, values))
    prompt = f"Q: {facts}. {names[asked]}?\nA:"
    correct = f" {names[asked]}={values[asked]} Final answer: {values[asked]}"
    buggy = f" {names[asked]}={values[0]} Final answer: {values[0]}"
    return Problem("facts", f"facts-{index}", prompt, values[asked], correct, buggy)


def _choice(rng: np.random.Generator, index: int) -> Problem:
    while True:
        options = [int(x) for x in rng.choice(np.arange(10), size=4, replace=False)]
        best = int(np.argmax(options))
        if best != 3:  # the bug (the last option) is always wrong
            break
    letters = "ABCD"
    listed = " ".join(f"({letters[i]}){o}" for i, o in enumerate(options))
    prompt = f"Q: max {listed}\nA:"
    correct = f" {options[best]} Final answer: {letters[best]}"
    buggy = f" {options[3]} Final answer: {letters[3]}"
    return Problem("choice", f"choice-{index}", prompt, letters[best], correct, buggy,
                   tuple(str(o) for o in options))


GENERATORS = {"count": _count, "facts": _facts, "choice": _choice}


def generate(family: str, count: int, seed: int) -> list[Problem]:
    """``count`` distinct problems of a family, deterministic for the seed."""
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    problems, prompts, draws = [], set(), 0
    while len(problems) < count:
        problem = GENERATORS[family](rng, len(problems))
        draws += 1
        if problem.prompt not in prompts:
            prompts.add(problem.prompt)
            problems.append(problem)
        elif draws > 50 * count:
            raise ValueError(f"family {family!r}: found only {len(problems)} distinct prompts in {draws} draws, "
                             f"{count} asked for (lower demos_per_family / task_examples_per_family)")
    return problems
