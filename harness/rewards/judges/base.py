"""Pairwise judges: which of two outputs to the same instruction is better, in AlpacaEval's encoding.

A judge returns, per pair, a preference in [1, 2]: 1 means ``output_1`` is better, 2 means ``output_2``
is, 1.5 a tie (AlpacaEval's convention, which ``get_winrate`` and its length-controlled GLM read).
Kinds (``JudgeConfig.kind``):
``lm`` (``lm.py``), ``reward_model`` (``reward_model.py``) and ``alpaca_eval`` (``annotator.py``), registered in
``registry.py``; a judge is built from its settings (its ``Config``) and a ``JudgeContext`` through ``from_config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

from harness.config.registry import NoArgs


@dataclass
class JudgeContext:
    """What a judge is built from besides its settings: nothing yet."""


class Judge:
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""

    @classmethod
    def from_config(cls, config: Any, context: JudgeContext) -> Judge:
        return cls(config)

    def __init__(self, config: Any):
        self.config = config

    @classmethod
    def label(cls, config: Any) -> str:
        """The annotator name of a judge with these settings, when the sweep names none."""
        raise NotImplementedError

    @classmethod
    def check(cls, config: Any) -> str | None:
        """What is wrong with the settings beyond their types (None when nothing is)."""
        return None

    def preferences(self, instructions: Sequence[str], outputs_1: Sequence[str], outputs_2: Sequence[str]) -> list[float]:
        raise NotImplementedError
