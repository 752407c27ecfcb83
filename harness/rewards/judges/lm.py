"""``lm`` judge: a local causal LM asked AlpacaEval's own classification prompt (the ``alpaca_eval_clf``
template shipped with alpaca_eval, read from the installed package); the preference comes from the
probabilities of its two answer tokens ("m" = first output, "M" = second), as AlpacaEval's
``logprob_parser`` does, asked in both orders and averaged to cancel position bias."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from harness.config.ranges import RANGE, at_least
from harness.models.loading import load_causal_lm, load_tokenizer, model_device
from harness.models.tokens import left_pad
from harness.rewards.judges.base import Judge

CLF_TEMPLATE = "alpaca_eval_clf_gpt4_turbo/alpaca_eval_clf.txt"


@dataclass
class LMJudgeConfig:
    model: str = field(metadata={"help": "The judge's causal LM (hub name, folder, .gguf, SOURCE:NAME, alias)."})
    chat_template: bool = field(default=True, metadata={"help": "Use the judge tokenizer's chat template if it has one."})
    max_output_tokens: int = field(default=512, metadata={"help": "Each output is cut to this many tokens.", RANGE: at_least(1)})
    batch_size: int = field(default=4, metadata={"help": "Pairs judged together.", RANGE: at_least(1)})
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"


def clf_template() -> list[dict[str, str]]:
    """AlpacaEval's classification prompt as chat messages (read from the installed alpaca_eval)."""
    text = resources.files("alpaca_eval").joinpath("evaluators_configs", *CLF_TEMPLATE.split("/")).read_text()
    return [{"role": role, "content": content.strip("\n")}
            for role, content in re.findall(r"<\|im_start\|>(\w+)\n(.*?)<\|im_end\|>", text, flags=re.DOTALL)]


def fill(messages: list[dict[str, str]], instruction: str, output_1: str, output_2: str) -> list[dict[str, str]]:
    values = {"{instruction}": instruction, "{output_1}": output_1, "{output_2}": output_2}
    pattern = re.compile("|".join(re.escape(k) for k in values))
    return [{"role": m["role"], "content": pattern.sub(lambda match: values[match.group(0)], m["content"])} for m in messages]


class LMJudge(Judge):
    """P(first output better) from the next-token probabilities of "m" vs "M", in both orders."""

    Config = LMJudgeConfig
    description = "a local causal LM asked AlpacaEval's prompt; P(m) vs P(M), both orders averaged"

    @classmethod
    def label(cls, config: LMJudgeConfig) -> str:
        return f"lm:{config.model}"

    def __init__(self, config: LMJudgeConfig):
        super().__init__(config)
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
        device = model_device(self.model)
        out = []
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
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
