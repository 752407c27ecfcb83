"""``implicit``: beta * (log pi(y|x) - log pi_ref(y|x)), how RewardBench scores DPO-trained models."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from harness.config.ranges import RANGE, positive
from harness.models.loading import model_identity
from harness.rewards.base import ModelScorerConfig, ModelScorerRM
from harness.rewards.scoring import encode_pairs, sequence_logps


@dataclass(kw_only=True)
class ImplicitConfig(ModelScorerConfig):
    reference: str = field(metadata={"help": "The reference model the DPO-trained model was trained against."})
    beta: float = field(default=1.0, metadata={"help": "Scale of the log-ratio.", RANGE: positive()})


class ImplicitRM(ModelScorerRM):
    Config = ImplicitConfig
    description = "beta * (log pi(y|x) - log pi_ref(y|x)) of a DPO-trained model against its reference"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        return cls(context.name, config, context.causal_lm(config.model, config), context.causal_lm(config.reference, config),
                   context.tokenizer(config.model))

    @classmethod
    def cache_identity(cls, config):
        return {**super().cache_identity(config), "reference": model_identity(config.reference, config.dtype, config.device),
                "beta": config.beta}

    @classmethod
    def model_specs(cls, config):
        return {**super().model_specs(config), "reference": config.reference}

    def __init__(self, name: str, config: ImplicitConfig, model: torch.nn.Module, reference: torch.nn.Module, tokenizer):
        super().__init__(name, config, model, tokenizer)
        self.reference = reference

    def score(self, prompts, responses, references=None):
        prompt_ids, response_ids = encode_pairs(self.tokenizer, prompts, responses, self.chat_template,
                                                 max_prompt_tokens=self.config.max_prompt_tokens)
        pad = self.tokenizer.pad_token_id
        policy, _ = sequence_logps(self.model, pad, prompt_ids, response_ids, self.config.batch_tokens)
        reference, _ = sequence_logps(self.reference, pad, prompt_ids, response_ids, self.config.batch_tokens)
        return (self.config.beta * (policy - reference)).tolist()
