"""``classifier``: the scalar head of a sequence-classification reward model."""

from __future__ import annotations

import numpy as np
import torch

from harness.models.loading import load_sequence_classifier, model_device
from harness.models.logprobs import token_budget_batches
from harness.rewards.base import ModelScorerConfig, ModelScorerRM
from harness.rewards.scoring import shorten_prompt


class ClassifierRM(ModelScorerRM):
    Config = ModelScorerConfig
    description = "scalar output of a sequence-classification reward model"
    cacheable = True

    @classmethod
    def from_config(cls, config, context):
        model = context.shared_model("sequence_classifier", config.model, config.dtype, config.device, load_sequence_classifier)
        return cls(context.name, config, model, context.tokenizer(config.model))

    @torch.no_grad()
    def score(self, prompts, responses, references=None):
        prompts = [shorten_prompt(self.tokenizer, p, self.config.max_prompt_tokens) for p in prompts]
        if self.chat_template:
            texts = [self.tokenizer.apply_chat_template([{"role": "user", "content": p}, {"role": "assistant", "content": r}],
                                                        tokenize=False) for p, r in zip(prompts, responses)]
        else:
            texts = [p + r for p, r in zip(prompts, responses)]
        encoded = [self.tokenizer(t)["input_ids"] for t in texts]
        scores = np.zeros(len(encoded))
        device = model_device(self.model)
        pad = self.tokenizer.pad_token_id
        for indices in token_budget_batches([len(e) for e in encoded], self.config.batch_tokens):
            width = max(len(encoded[i]) for i in indices)
            ids = torch.full((len(indices), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(indices):
                ids[row, :len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, :len(encoded[i])] = 1
            logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            scores[indices] = logits[:, 0].float().cpu().numpy()
        return scores.tolist()
