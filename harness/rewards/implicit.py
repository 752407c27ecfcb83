"""``implicit``: beta * (log pi(y|x) - log pi_ref(y|x)), how RewardBench scores DPO-trained models."""

from __future__ import annotations

import torch

from harness.config.schema import RewardModelConfig
from harness.rewards.base import RewardModel
from harness.rewards.scoring import encode_pairs, sequence_logps


class ImplicitRM(RewardModel):
    description = "beta * (log pi(y|x) - log pi_ref(y|x)) of a DPO-trained model against its reference"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        return cls(config, context.causal_lm(config.model, config), context.causal_lm(config.reference, config),
                   context.tokenizer(config.model))

    def __init__(self, config: RewardModelConfig, model: torch.nn.Module, reference: torch.nn.Module, tokenizer):
        self.name, self.config = config.name, config
        self.model, self.reference, self.tokenizer = model, reference, tokenizer

    def score(self, prompts, responses, references=None):
        prompt_ids, response_ids = encode_pairs(self.tokenizer, prompts, responses, self.config.chat_template,
                                                 max_prompt_tokens=self.config.max_prompt_tokens)
        pad = self.tokenizer.pad_token_id
        policy, _ = sequence_logps(self.model, pad, prompt_ids, response_ids, self.config.batch_tokens)
        reference, _ = sequence_logps(self.reference, pad, prompt_ids, response_ids, self.config.batch_tokens)
        return (self.config.beta * (policy - reference)).tolist()
