"""``loglik``: mean token log-likelihood of the response given the prompt under a causal LM, the
reference-free RewardBench recipe the paper uses (appendix A.1). The RM's EOS token is appended to each
response, so the score is the likelihood of the response *as a complete answer* (and an empty response
still has one scored token)."""

from __future__ import annotations

import numpy as np

from harness.rewards.base import ModelScorerConfig, ModelScorerRM
from harness.rewards.scoring import encode_pairs, sequence_logps


class LogLikelihoodRM(ModelScorerRM):
    Config = ModelScorerConfig
    description = "mean token log-likelihood of the response under a causal LM (paper's RewardBench recipe)"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        return cls(context.name, config, context.causal_lm(config.model, config), context.tokenizer(config.model))

    def score(self, prompts, responses, references=None):
        prompt_ids, response_ids = encode_pairs(self.tokenizer, prompts, responses, self.chat_template,
                                                 max_prompt_tokens=self.config.max_prompt_tokens)
        sums, counts = sequence_logps(self.model, self.tokenizer.pad_token_id, prompt_ids, response_ids, self.config.batch_tokens)
        return (sums / np.maximum(counts, 1)).tolist()
