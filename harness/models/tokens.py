"""Token-level helpers shared by the policy, the reward models and the judges: chat prompts, truncation, padding."""

from __future__ import annotations

from typing import Literal, Sequence

import torch
from transformers import PreTrainedTokenizerBase


def chat_prompt_ids(tokenizer: PreTrainedTokenizerBase, prompt: str) -> list[int]:
    """Token ids of a one-turn user message in the tokenizer's chat template, ready for the answer."""
    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True)
    if hasattr(ids, "keys"):  # a BatchEncoding in recent transformers
        ids = ids["input_ids"]
    return list(ids)


def truncate_tokens(ids: list[int], limit: int, where: str) -> list[int]:
    """At most ``limit`` tokens: keep the end ('left'), or both ends around a cut middle ('middle', as LongBench
    does, since instructions and questions sit at the start and end of a long-context prompt)."""
    if len(ids) <= limit:
        return ids
    if where == "middle":
        head = limit // 2
        return ids[:head] + ids[len(ids) - (limit - head):]
    return ids[-limit:]


def pad_tokens(sequences: Sequence[Sequence[int]], pad_id: int,
               side: Literal["left", "right"] = "left") -> tuple[torch.Tensor, torch.Tensor]:
    """Padded token ids and attention mask of a batch: left-padded for generation (which reads the last column),
    right-padded for an encoder (whose first token and positions must not move)."""
    width = max(len(p) for p in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, p in enumerate(sequences):
        cells = slice(width - len(p), width) if side == "left" else slice(0, len(p))
        ids[row, cells] = torch.tensor(list(p), dtype=torch.long)
        mask[row, cells] = 1
    return ids, mask


def left_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-padded token ids and attention mask of a batch of prompts (generation reads the last column)."""
    return pad_tokens(sequences, pad_id, "left")
