"""Answer extraction from free-form solutions ("... Final answer: X") with fallbacks, and answer equality.

Each extractor looks first at the text after the last "Final answer" (the format the paper's prompt asks
for), then falls back to the conventions models and datasets use anyway: ``#### N`` (GSM8K),
``\\boxed{...}`` (MATH), "the answer is (B)", or the last number / yes-no word in the text.
"""

from __future__ import annotations

import re
from fractions import Fraction

_FINAL = re.compile(r"final\s+answer\s*(?:is\s*)?[:：]?", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")
_YES_NO = re.compile(r"\b(yes|no|true|false)\b", re.IGNORECASE)


def final_answer_segment(text: str) -> str | None:
    """The rest of the line after the last "Final answer" marker, without markdown emphasis."""
    matches = list(_FINAL.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end():].lstrip(" \t*_:")
    line = rest.split("\n", 1)[0] if rest.strip() else rest.strip()
    if not line.strip() and "\n" in rest:  # "Final answer:\n42"
        line = rest.strip().split("\n", 1)[0]
    return line.strip().strip("*_").strip()


# ----- numbers (GSM8K) -------------------------------------------------------------------------
def normalize_number(text: str) -> str | None:
    """Canonical decimal string of a number written with commas, $, units or trailing zeros."""
    match = _NUMBER.search(text.replace("$", ""))
    if not match:
        return None
    raw = match.group(0).replace(",", "")
    try:
        value = Fraction(raw)
    except (ValueError, ZeroDivisionError):
        return None
    if value.denominator == 1:
        return str(value.numerator)
    return format(float(value), ".10g")


def extract_number(text: str) -> str | None:
    if "####" in text:  # GSM8K's own answer marker is the most explicit one
        found = normalize_number(text.rsplit("####", 1)[1])
        if found is not None:
            return found
    segment = final_answer_segment(text)
    if segment:
        boxed = last_boxed(segment)
        found = normalize_number(boxed if boxed is not None else segment)
        if found is not None:
            return found
    boxed = last_boxed(text)
    if boxed is not None and normalize_number(boxed) is not None:
        return normalize_number(boxed)
    numbers = _NUMBER.findall(text.replace("$", ""))
    return normalize_number(numbers[-1]) if numbers else None


def numbers_equal(prediction: str | None, gold: str) -> bool:
    if prediction is None:
        return False
    a, b = normalize_number(prediction), normalize_number(gold)
    if a is None or b is None:
        return False
    return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))


# ----- yes / no (StrategyQA) -------------------------------------------------------------------
def _yes_no(word: str) -> str:
    return "yes" if word.lower() in ("yes", "true") else "no"


def extract_yes_no(text: str) -> str | None:
    segment = final_answer_segment(text)
    if segment:
        match = _YES_NO.search(segment)
        if match:
            return _yes_no(match.group(1))
    matches = _YES_NO.findall(text)
    return _yes_no(matches[-1]) if matches else None


# ----- multiple choice (MMLU, CommonsenseQA) ---------------------------------------------------
def extract_choice(text: str, choices: list[str], letters: str = "ABCDE") -> str | None:
    """The option letter a solution picks: by letter, by option text, or by "answer is (X)"."""
    letters = letters[: len(choices)]
    letter_at_start = re.compile(rf"^\s*[\(\[]?([{letters}])(?:[\)\]\.:,]|\s|$)")
    segment = final_answer_segment(text)
    if segment:
        match = letter_at_start.match(segment)
        if match:
            return match.group(1)
        match = re.search(rf"[\(\[]([{letters}])[\)\]]|\b(?:option|choice)\s+([{letters}])\b", segment, re.IGNORECASE)
        if match:
            return (match.group(1) or match.group(2)).upper()
        by_text = _choice_by_text(segment, choices, letters)
        if by_text:
            return by_text
    match = None
    for match in re.finditer(rf"answer\s+is\s*:?\s*[\(\[]?([{letters}])\b", text, re.IGNORECASE):
        pass
    if match:
        return match.group(1).upper()
    found = re.findall(rf"[\(\[]([{letters}])[\)\]]", text)
    return found[-1] if found else None


def _choice_by_text(segment: str, choices: list[str], letters: str) -> str | None:
    lowered = segment.lower().strip(" .")
    exact = [i for i, c in enumerate(choices) if c.strip().lower() == lowered]
    if exact:
        return letters[exact[0]]
    contained = [(len(c), i) for i, c in enumerate(choices) if c.strip() and c.strip().lower() in lowered]
    return letters[max(contained)[1]] if contained else None


# ----- MATH ------------------------------------------------------------------------------------
def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` (balanced braces), or ``\\boxed x``."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    rest = text[start:]
    brace = rest.find("{")
    if rest.startswith("\\boxed ") and (brace < 0 or brace > 7):
        return rest[len("\\boxed "):].split("$")[0].strip()
    if brace < 0:
        return None
    depth = 0
    for i, char in enumerate(rest[brace:], start=brace):
        depth += char == "{"
        depth -= char == "}"
        if depth == 0:
            return rest[brace + 1:i]
    return None


def extract_math(text: str) -> str | None:
    segment = final_answer_segment(text)
    if segment:
        boxed = last_boxed(segment)
        answer = boxed if boxed is not None else segment.strip().strip("$").rstrip(".").strip()
        if answer:
            return answer
    return last_boxed(text)


def _fix_fracs(text: str) -> str:
    """\\frac12 -> \\frac{1}{2}, \\frac1{2} -> \\frac{1}{2}."""
    out, parts = "", text.split("\\frac")
    out = parts[0]
    for part in parts[1:]:
        out += "\\frac"
        if part.startswith("{"):
            out += part
            continue
        if len(part) < 2:
            return text
        a, b = part[0], part[1]
        if b == "{":
            out += "{" + a + "}" + part[1:]
        else:
            out += "{" + a + "}{" + b + "}" + part[2:]
    return out


def _fix_sqrt(text: str) -> str:
    return re.sub(r"\\sqrt(\w)", r"\\sqrt{\1}", text)


def _slash_to_frac(text: str) -> str:
    match = re.fullmatch(r"(-?\d+)/(\d+)", text)
    return f"\\frac{{{match.group(1)}}}{{{match.group(2)}}}" if match else text


def normalize_math(text: str | None) -> str:
    """A canonical form of a MATH answer (after Hendrycks et al.'s equivalence normalisation)."""
    if text is None:
        return ""
    s = str(text).strip()
    s = re.sub(r"\\text\{\s*([^{}]*)\}", r"\1", s)
    s = re.sub(r"\\(?:mbox|mathrm|textbf)\{\s*([^{}]*)\}", r"\1", s)
    for old, new in (("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\:", ""),
                     ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("^\\circ", ""), ("^{\\circ}", ""),
                     ("\\$", ""), ("$", ""), ("\\%", ""), ("%", ""), ("\\displaystyle", ""), ("~", "")):
        s = s.replace(old, new)
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"^(-?[\d.,]+)(?:units?|degrees?|cm|inches|inch|meters?|feet|dollars?|cents?)$", r"\1", s)
    s = s.rstrip(".")
    if s.startswith("."):
        s = "0" + s
    if re.match(r"^[a-zA-Z]=.", s):  # "x=5" -> "5"
        s = s[2:]
    s = _fix_sqrt(_fix_fracs(s))
    s = _slash_to_frac(s)
    if s == "0.5":
        s = "\\frac{1}{2}"
    s = re.sub(r"(\d),(\d\d\d)(?!\d)", r"\1\2", s) if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", s) else s
    return s


def math_equal(prediction: str | None, gold: str) -> bool:
    a, b = normalize_math(prediction), normalize_math(gold)
    if not a:
        return False
    if a == b:
        return True
    try:
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    except ValueError:
        return False
