from __future__ import annotations

import pytest

from harness.tasks.answers import extract_choice, extract_math, extract_number, extract_yes_no, math_equal, numbers_equal


@pytest.mark.parametrize("text, expected", [
    ("So she pays 3*4 = 12 dollars.\nFinal answer: $1,250.00", "1250"),
    ("Final answer: 18 eggs", "18"),
    ("**Final answer:** -3.50", "-3.5"),
    ("The answer is 42.\n#### 42", "42"),
    ("We get \\boxed{7}.", "7"),
    ("first 3 then 5 so 8", "8"),
    ("Final answer:\n 64", "64"),
    ("no digits at all", None),
])
def test_extract_number(text, expected):
    assert extract_number(text) == expected


def test_numbers_equal_ignores_formatting():
    assert numbers_equal("1,000", "1000")
    assert numbers_equal("12.0", "12")
    assert not numbers_equal("12.5", "12")
    assert not numbers_equal(None, "1")


@pytest.mark.parametrize("text, expected", [
    ("Cats are mammals.\nFinal answer: Yes.", "yes"),
    ("Final answer: false", "no"),
    ("Thus no, it cannot. Final answer: no", "no"),
    ("It would be true that ... so yes", "yes"),
    ("I am unsure", None),
])
def test_extract_yes_no(text, expected):
    assert extract_yes_no(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("Final answer: (C) Paris", "C"),
    ("Final answer: B", "B"),
    ("Final answer: D. 42", "D"),
    ("Final answer: the option is (A)", "A"),
    ("Final answer: Paris", "C"),
    ("I think the answer is (B).", "B"),
    ("Nothing useful here", None),
])
def test_extract_choice(text, expected):
    assert extract_choice(text, ["London", "Rome", "Paris", "Berlin"], "ABCD") == expected


@pytest.mark.parametrize("text, gold", [
    ("so \\boxed{\\frac{1}{2}}", "\\dfrac12"),
    ("Final answer: $\\frac{3}{4}$.", "3/4"),
    ("Final answer: 10\\%", "10"),
    ("We get \\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("Final answer: x = 5", "5"),
    ("\\boxed{90^\\circ}", "90"),
])
def test_math_answers(text, gold):
    assert math_equal(extract_math(text), gold)


def test_math_rejects_wrong_answers():
    assert not math_equal(extract_math("\\boxed{3}"), "4")
    assert not math_equal(None, "4")
