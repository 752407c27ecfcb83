"""Procedurally generated task families with gold answers, and correct / systematically buggy solutions.

- ``arith``: two-step arithmetic on digits ("Q: 3+4-1"); the bug swaps the last operator.
- ``facts``: look-up in a small generated knowledge base given in the prompt ("Q: tam=red kel=blue. kel?");
  the bug answers with the first-listed entity's value.
- ``choice``: pick the largest of four options ("Q: max (A)12 (B)45 (C)7 (D)30"); the bug compares only
  the last digit.
Each problem knows its correct solution and its buggy one, so the world can train a mediocre policy on a
mix, reward models on chosen mixtures, and measure every RM's ranking accuracy exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FAMILIES = ("arith", "facts", "choice")
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


def _arith(rng: np.random.Generator, index: int) -> Problem:
    a, b, c = (int(x) for x in rng.integers(1, 10, size=3))
    op1, op2 = rng.choice(["+", "-"], size=2)
    first = a + b if op1 == "+" else a - b
    result = first + c if op2 == "+" else first - c
    wrong_op = "-" if op2 == "+" else "+"
    wrong = first + c if wrong_op == "+" else first - c
    prompt = f"Q: {a}{op1}{b}{op2}{c}\nA:"
    correct = f" {a}{op1}{b}={first} {first}{op2}{c}={result} Final answer: {result}"
    buggy = f" {a}{op1}{b}={first} {first}{wrong_op}{c}={wrong} Final answer: {wrong}"
    return Problem("arith", f"arith-{index}", prompt, str(result), correct, buggy)


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
        options = [int(x) for x in rng.choice(np.arange(10, 100), size=4, replace=False)]
        best = int(np.argmax(options))
        by_last_digit = max(range(4), key=lambda i: (options[i] % 10, -i))
        if by_last_digit != best and len({o % 10 for o in options}) == 4:
            break
    letters = "ABCD"
    listed = " ".join(f"({letters[i]}){o}" for i, o in enumerate(options))
    prompt = f"Q: max {listed}\nA:"
    correct = f" {options[best]} is largest Final answer: {letters[best]}"
    buggy = f" {options[by_last_digit]} is largest Final answer: {letters[by_last_digit]}"
    return Problem("choice", f"choice-{index}", prompt, letters[best], correct, buggy,
                   tuple(str(o) for o in options))


GENERATORS = {"arith": _arith, "facts": _facts, "choice": _choice}


def generate(family: str, count: int, seed: int) -> list[Problem]:
    """``count`` distinct problems of a family, deterministic for the seed."""
    rng = np.random.default_rng([seed, FAMILIES.index(family)])
    problems, prompts = [], set()
    while len(problems) < count:
        problem = GENERATORS[family](rng, len(problems))
        if problem.prompt not in prompts:
            prompts.add(problem.prompt)
            problems.append(problem)
    return problems
