"""``alpaca_eval`` judge: an AlpacaEval annotator config (e.g. ``weighted_alpaca_eval_gpt4_turbo``, the
paper's GPT-4 judge, with an OpenAI key) or a path to one, run through ``alpaca_eval.annotators``."""

from __future__ import annotations

from alpaca_eval.annotators import PairwiseAnnotator

from harness.rewards.judges.base import Judge, JudgeConfig


class AlpacaEvalJudge(Judge):
    description = "an alpaca_eval annotator config (e.g. weighted_alpaca_eval_gpt4_turbo; needs its API key)"

    def __init__(self, config: JudgeConfig):
        super().__init__(config)
        self.annotator = PairwiseAnnotator(annotators_config=config.annotator, caching_path=None)

    def preferences(self, instructions, outputs_1, outputs_2):
        rows = [{"instruction": i, "output_1": a, "output_2": b} for i, a, b in zip(instructions, outputs_1, outputs_2)]
        annotated = self.annotator.annotate_pairs(rows)
        return [float(row["preference"]) if row.get("preference") is not None else float("nan") for row in annotated]
