"""The allowed range of a numeric setting, declared once, in its dataclass field's metadata.

``batch_size: int = field(default=16, metadata={"range": at_least(1)})``: ``harness.config.parse.config_problems``
checks it for every config dataclass (a run's and a sweep's sections, and every registry entry's ``Config`` when
``Registry.parse`` reads it), and ``harness.config.json_schema`` writes it into the JSON Schemas as
``minimum``/``maximum``. A null value of an optional field is always allowed; a range on a list or a mapping holds
for each of its values. A value outside gets ``<full.key>: must be <range>, got <value>``.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from dataclasses import dataclass
from typing import Any, Iterator, Union, get_args, get_origin, get_type_hints

RANGE = "range"  # field metadata: the field's allowed Range


@dataclass(frozen=True)
class Range:
    """``low <= value <= high`` (``low_open``/``high_open``: strictly); None: unbounded on that side."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    note: str = ""  # what an edge value means, said in the error ("0: no clipping")

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low}, {self.high}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low}"
        return f"{'<' if self.high_open else '<='} {self.high}"

    def __contains__(self, value: float) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def json_schema(self) -> dict[str, float]:
        """The JSON Schema keywords of this range."""
        keywords = {}
        if self.low is not None:
            keywords["exclusiveMinimum" if self.low_open else "minimum"] = self.low
        if self.high is not None:
            keywords["exclusiveMaximum" if self.high_open else "maximum"] = self.high
        return keywords


def at_least(low: float, note: str = "") -> Range:
    """``value >= low`` (sizes, counts: ``at_least(1)``; seeds: ``at_least(0)``)."""
    return Range(low=low, note=note)


def above(low: float, note: str = "") -> Range:
    """``value > low``."""
    return Range(low=low, low_open=True, note=note)


def positive(note: str = "") -> Range:
    """``value > 0`` (rates, scales)."""
    return above(0, note)


def between(low: float, high: float, *, low_open: bool = False, high_open: bool = False, note: str = "") -> Range:
    """``low <= value <= high``, either end open on request (probabilities: ``between(0, 1)``)."""
    return Range(low=low, high=high, low_open=low_open, high_open=high_open, note=note)


def range_of(cls: type, name: str) -> Range:
    """The range field ``name`` of dataclass ``cls`` declares: for a setting that mirrors another (a loss's ``beta``
    is ``train.beta``), so the range is still declared once."""
    return next(f for f in dataclasses.fields(cls) if f.name == name).metadata[RANGE]


@functools.lru_cache(maxsize=None)
def _nullable(cls: type) -> frozenset[str]:
    """The fields of dataclass ``cls`` that accept null."""
    hints = get_type_hints(cls)
    return frozenset(name for name, hint in hints.items()
                     if get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint))


def _numbers(value: Any, key: str) -> Iterator[tuple[str, Any]]:
    """(key, number) of a field's value: itself, or each item of a list or mapping."""
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _numbers(item, f"{key}[{i}]")
    elif isinstance(value, dict):
        for name, item in value.items():
            yield from _numbers(item, f"{key}.{name}")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield key, value


def range_problems(obj: Any) -> Iterator[tuple[str, str]]:
    """``(key, problem)`` for each value of dataclass ``obj`` outside its field's declared range, in field order."""
    nullable = _nullable(type(obj))
    for f in dataclasses.fields(obj):
        allowed = f.metadata.get(RANGE)
        if allowed is None:
            continue
        for key, value in _numbers(getattr(obj, f.name), f.name):
            if value not in allowed:
                null = " or null" if f.name in nullable and key == f.name else ""
                note = f" ({allowed.note})" if allowed.note else ""
                yield key, f"must be {allowed}{null}{note}, got {value}"
