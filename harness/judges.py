"""Pairwise judges: which of two outputs to the same instruction is better, in AlpacaEval's encoding.

A judge returns, per pair, a preference in [1, 2]: 1 means ``output_1`` is better, 2 means ``output_2``
is, 1.5 a tie (AlpacaEval's convention, which ``get_winrate`` and its length-controlled GLM read).
Kinds (``JudgeConfig.kind``):
- ``lm``: a local causal LM asked AlpacaEval's own classification prompt (the ``alpaca_eval_clf``
  template shipped with alpaca_eval, read from the installed package); the preference comes from the
  probabilities of its two answer tokens ("m" = first output, "M" = second), as AlpacaEval's
  ``logprob_parser`` does, asked in both orders and averaged to cancel position bias;
- ``reward_model``: any reward model of ``harness.rewards`` scores each output given the instruction;
  P(output_1 better) = sigmoid(score_1 - score_2) (Bradley-Terry);
- ``alpaca_eval``: an AlpacaEval annotator config (e.g. ``weighted_alpaca_eval_gpt4_turbo`` with an
  OpenAI key, the paper's GPT-4 judge) or a path to one, run through ``alpaca_eval.annotators``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal, Sequence

import numpy as np

from harness.config import RewardModelConfig
from harness.registry import Registry

CLF_TEMPLATE = "alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"


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


def clf_template() -> list[dict[str, str]]:
    """AlpacaEval's classification prompt as chat messages (read from the installed alpaca_eval)."""
    from importlib import resources

    text = resources.files("alpaca_eval").joinpath("evaluators_configs", *CLF_TEMPLATE.split("/")).read_text()
    return [{"role": role, "content": content.strip("\n")}
            for role, content in re.findall(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", text, flags=re.DOTALL)]


def fill(messages: list[dict[str, str]], instruction: str, output_1: str, output_2: str) -> list[dict[str, str]]:
    values = {"{instruction}": instruction, "{output_1}": output_1, "{output_2}": output_2}
    pattern = re.compile("|".join(re.escape(k) for k in values))
    return [{"role": m["role"], "content": pattern.sub(lambda match: values[match.group(0)], m["content"])} for m in messages]


class LMJudge(Judge):
    """P(first output better) from the next-token probabilities of "m" vs "M", in both orders."""

    description = "a local causal LM asked AlpacaEval's prompt; P(m) vs P(M), both orders averaged"

    def __init__(self, config: JudgeConfig):
        super().__init__(config)
        from harness.models import load_causal_lm, load_tokenizer

        if not config.model:
            raise ValueError("judge.model: required for kind 'lm'")
        self.tokenizer = load_tokenizer(config.model)
        self.model = load_causal_lm(config.model, config.dtype, config.device).requires_grad_(False).eval()
        self.messages = clf_template()
        self.first, self.second = (self._token("m"), self._token("M"))
        if self.first == self.second:
            raise ValueError(f"judge {config.model}: 'm' and 'M' map to the same token")

    def _token(self, text: str) -> int:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"][0]

    def _cut(self, text: str) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return text if len(ids) <= self.config.max_output_tokens else self.tokenizer.decode(ids[:self.config.max_output_tokens])

    def _prompt_ids(self, instruction: str, first: str, second: str) -> list[int]:
        messages = fill(self.messages, instruction, first, second)
        if self.config.chat_template and getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
            return list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
        text = "\n\n".join(m["content"] for m in messages) + "\n"
        return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    def first_better(self, prompts: list[list[int]]) -> np.ndarray:
        import torch

        from harness.models import left_pad, model_device

        device = model_device(self.model)
        out = []
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        from tqdm import tqdm

        starts = range(0, len(prompts), self.config.batch_size)
        for start in tqdm(starts, desc="judging", unit="batch", disable=len(starts) < 10, leave=False):
            ids, mask = left_pad(prompts[start:start + self.config.batch_size], pad)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad():
                logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device),
                                    position_ids=positions.to(device), use_cache=False).logits[:, -1].float()
            pair = torch.log_softmax(logits, dim=-1)[:, [self.first, self.second]]
            out += torch.softmax(pair, dim=-1)[:, 0].cpu().tolist()
        return np.asarray(out)

    def preferences(self, instructions, outputs_1, outputs_2):
        a = [self._cut(o) for o in outputs_1]
        b = [self._cut(o) for o in outputs_2]
        forward = self.first_better([self._prompt_ids(i, x, y) for i, x, y in zip(instructions, a, b)])
        backward = self.first_better([self._prompt_ids(i, y, x) for i, x, y in zip(instructions, a, b)])
        p_output_1 = 0.5 * (forward + (1.0 - backward))
        return (2.0 - p_output_1).tolist()


class RewardModelJudge(Judge):
    description = "a reward model's scores of both outputs, P(first better) = sigmoid(difference)"
    def __init__(self, config: JudgeConfig):
        super().__init__(config)
        from harness.rewards import build_reward_models

        if config.reward_model is None:
            raise ValueError("judge.reward_model: required for kind 'reward_model'")

        def no_gold(text, example):
            raise ValueError("a judge has no gold answers")

        self.rm = build_reward_models([config.reward_model], no_gold, seed=0)[config.reward_model.name]

    def preferences(self, instructions, outputs_1, outputs_2):
        first = np.asarray(self.rm.score(list(instructions), list(outputs_1)), dtype=float)
        second = np.asarray(self.rm.score(list(instructions), list(outputs_2)), dtype=float)
        p_output_1 = 1.0 / (1.0 + np.exp(-(first - second)))
        return (2.0 - p_output_1).tolist()


class AlpacaEvalJudge(Judge):
    description = "an alpaca_eval annotator config (e.g. weighted_alpaca_eval_gpt4_turbo; needs its API key)"
    def __init__(self, config: JudgeConfig):
        super().__init__(config)
        from alpaca_eval.annotators import PairwiseAnnotator

        self.annotator = PairwiseAnnotator(annotators_config=config.annotator, caching_path=None)

    def preferences(self, instructions, outputs_1, outputs_2):
        rows = [{"instruction": i, "output_1": a, "output_2": b} for i, a, b in zip(instructions, outputs_1, outputs_2)]
        annotated = self.annotator.annotate_pairs(rows)
        return [float(row["preference"]) if row.get("preference") is not None else float("nan") for row in annotated]


JUDGES: Registry[type[Judge]] = Registry("judge", {
    "lm": "harness.judges:LMJudge",
    "reward_model": "harness.judges:RewardModelJudge",
    "alpaca_eval": "harness.judges:AlpacaEvalJudge",
}, base=Judge)


def build_judge(config: JudgeConfig) -> Judge:
    return JUDGES.get(config.kind)(config)
