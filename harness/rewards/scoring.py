"""Scoring (prompt, response) pairs with a causal LM: prompt/response encoding, middle truncation of long
prompts, and summed response log-probs batched by a token budget (a long prompt encoded once for all its
responses)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from harness.models.loading import model_device
from harness.models.logprobs import completion_logps, make_token_batch, shared_prompt_logps, token_budget_batches
from harness.models.tokens import chat_prompt_ids, truncate_tokens


def shorten_prompt(tokenizer, prompt: str, max_tokens: int | None) -> str:
    """The prompt with its middle cut to at most ``max_tokens`` tokens (as LongBench truncates)."""
    if max_tokens is None:
        return prompt
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    if len(ids) <= max_tokens:
        return prompt
    return tokenizer.decode(truncate_tokens(ids, max_tokens, "middle"), skip_special_tokens=False)


def encode_pairs(tokenizer, prompts: Sequence[str], responses: Sequence[str], chat_template: bool,
                  append_eos: bool = True, max_prompt_tokens: int | None = None) -> tuple[list[list[int]], list[list[int]]]:
    prompt_ids, response_ids = [], []
    eos = [tokenizer.eos_token_id] if append_eos and tokenizer.eos_token_id is not None else []
    for prompt, response in zip(prompts, responses):
        prompt = shorten_prompt(tokenizer, prompt, max_prompt_tokens)
        if chat_template:
            prompt_ids.append(chat_prompt_ids(tokenizer, prompt))
        else:
            prompt_ids.append(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        response_ids.append(tokenizer(response, add_special_tokens=False)["input_ids"] + eos)
    return prompt_ids, response_ids


# A prompt is encoded once for all its responses only from this length on: below it, the two extra forward
# calls per prompt cost more than they save (measured: 32 prompts x 4 responses on the quickstart's tiny RM,
# 30- and 120-token prompts, shared 0.18 s vs batched 0.04 / 0.11 s; SmolLM2 with a 1,024-token prompt and
# 8 responses, shared 5.8 s vs 31.2 s).
SHARED_PROMPT_MIN_TOKENS = 256


@torch.no_grad()
def sequence_logps(model: torch.nn.Module, pad_id: int, prompt_ids: Sequence[list[int]], response_ids: Sequence[list[int]],
                   batch_tokens: int, share_prompts: bool = True,
                   share_min_tokens: int = SHARED_PROMPT_MIN_TOKENS) -> tuple[np.ndarray, np.ndarray]:
    """Summed response log-probs and response lengths for every pair, batched by a token budget. Responses
    to the same long prompt (the n samples of a long-context prompt) share one pass over the prompt when
    ``share_prompts`` and the prompt has at least ``share_min_tokens`` tokens."""
    sums, counts = np.zeros(len(prompt_ids)), np.zeros(len(prompt_ids))
    device = model_device(model)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, prompt in enumerate(prompt_ids):
        groups.setdefault(tuple(prompt), []).append(i)
    single = []
    for prompt, members in groups.items():
        if not share_prompts or len(members) < 2 or len(prompt) < max(2, share_min_tokens):
            single += members
            continue
        longest = max(len(response_ids[i]) for i in members) + 1
        size = max(1, batch_tokens // (len(prompt) + longest))
        for start in range(0, len(members), size):
            chunk = members[start:start + size]
            chunk_sums, chunk_counts = shared_prompt_logps(model, prompt, [response_ids[i] for i in chunk], pad_id)
            sums[chunk] = chunk_sums.double().cpu().numpy()
            counts[chunk] = chunk_counts.cpu().numpy()
    lengths = [len(prompt_ids[i]) + len(response_ids[i]) for i in single]
    for positions in token_budget_batches(lengths, batch_tokens):
        indices = [single[j] for j in positions]
        batch = make_token_batch([prompt_ids[i] for i in indices], [response_ids[i] for i in indices], pad_id, device)
        batch_sums, batch_counts = completion_logps(model, batch)
        sums[indices] = batch_sums.double().cpu().numpy()
        counts[indices] = batch_counts.cpu().numpy()
    return sums, counts
