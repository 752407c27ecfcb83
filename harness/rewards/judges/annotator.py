"""``alpaca_eval`` judge: an AlpacaEval annotator config (e.g. ``weighted_alpaca_eval_gpt4_turbo``, the
paper's GPT-4 judge, with an OpenAI key) or a path to one, run through ``alpaca_eval.annotators``."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

with warnings.catch_warnings():  # alpaca_eval 0.6.6 imports pkg_resources, which warns on every import
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    from alpaca_eval.annotators import PairwiseAnnotator

from harness.rewards.judges.base import Judge


@dataclass
class AnnotatorConfig:
    annotator: str = field(default="weighted_alpaca_eval_gpt4_turbo", metadata={
        "help": "alpaca_eval annotator config name (its evaluators_configs) or path to a configs.yaml."})


class AlpacaEvalJudge(Judge):
    Config = AnnotatorConfig
    description = "an alpaca_eval annotator config (e.g. weighted_alpaca_eval_gpt4_turbo; needs its API key)"

    @classmethod
    def label(cls, config: AnnotatorConfig) -> str:
        return str(config.annotator)

    def __init__(self, config: AnnotatorConfig):
        super().__init__(config)
        self.annotator = PairwiseAnnotator(annotators_config=config.annotator, caching_path=None)

    def preferences(self, instructions, outputs_1, outputs_2):
        rows = [{"instruction": i, "output_1": a, "output_2": b} for i, a, b in zip(instructions, outputs_1, outputs_2)]
        annotated = self.annotator.annotate_pairs(rows)
        return [float(row["preference"]) if row.get("preference") is not None else float("nan") for row in annotated]
