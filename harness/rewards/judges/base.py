"""Pairwise judges: which of two outputs to the same instruction is better, in AlpacaEval's encoding.

A judge returns, per pair, a preference in [1, 2]: 1 means ``output_1`` is better, 2 means ``output_2``
is, 1.5 a tie (AlpacaEval's convention, which ``get_winrate`` and its length-controlled GLM read).
Kinds (``JudgeConfig.kind``):
``lm`` (``lm.py``), ``reward_model`` (``reward_model.py``) and ``alpaca_eval`` (``annotator.py``), registered in
``registry.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

from harness.config.schema import RewardModelConfig


@dataclass
class JudgeConfig:
    kind: str = field(default="lm", metadata={"help": "lm | reward_model | alpaca_eval"})
    name: str = field(default="", metadata={"help": "Annotator name written into the annotations (default: derived)."})
    model: str = field(default="", metadata={"help": "lm: the judge's causal LM (hub name, folder, .gguf, alias)."})
    chat_template: bool = field(default=True, metadata={"help": "lm: use the judge tokenizer's chat template if it has one."})
    max_output_tokens: int = field(default=512, metadata={"help": "lm: each output is cut to this many tokens."})
    batch_size: int = 4
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    reward_model: RewardModelConfig | None = field(default=None, metadata={"help": "reward_model: the RM that judges."})
    annotator: str = field(default="weighted_alpaca_eval_gpt4_turbo", metadata={
        "help": "alpaca_eval: annotator config name (alpaca_eval's evaluators_configs) or path to a configs.yaml."})

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        if self.kind == "lm":
            return f"lm:{self.model}"
        if self.kind == "reward_model" and self.reward_model is not None:
            return f"rm:{self.reward_model.name}"
        return str(self.annotator)


class Judge:
    description: str = ""

    def __init__(self, config: JudgeConfig):
        self.config = config

    def preferences(self, instructions: Sequence[str], outputs_1: Sequence[str], outputs_2: Sequence[str]) -> list[float]:
        raise NotImplementedError
