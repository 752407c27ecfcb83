"""Completion log-probabilities under a causal LM without materialising full-vocabulary log-softmaxes.

The decoder runs once over prompt+completion; the output head is applied only at the positions that
predict completion tokens, and each token's log-probability is its logit minus the logsumexp of that
row. Training (DPO/NLL/KTO), the log-likelihood and implicit reward models and the benchmark all share
this one path. With ``checkpoint_logits`` (gradient checkpointing), each chunk's float32 logits are recomputed
in the backward pass rather than held: 8 pairs (16 sequences) x 1k completion tokens x a 128k vocabulary would
otherwise keep about 8 GiB of them until the backward pass.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

import torch
from torch.utils.checkpoint import checkpoint
from transformers import LlamaModel

# transformers 5 renamed a model's KV cache from ``past_key_values`` to ``cache`` (argument and output)
CACHE_KWARG = "cache" if "cache" in inspect.signature(LlamaModel.forward).parameters else "past_key_values"


def kv_cache(output) -> object:
    """The KV cache of a model output, under either name."""
    return getattr(output, CACHE_KWARG)


def causal_lm_of(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers CausalLM inside a peft wrapper (LoRA layers stay injected and active)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


@dataclass
class TokenBatch:
    """Right-padded prompt+completion sequences; ``completion_mask`` marks completion tokens."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    completion_mask: torch.Tensor


def make_token_batch(prompts: Sequence[Sequence[int]], completions: Sequence[Sequence[int]], pad_id: int,
                     device: torch.device | str = "cpu") -> TokenBatch:
    if len(prompts) != len(completions):
        raise ValueError(f"{len(prompts)} prompts but {len(completions)} completions")
    lengths = [len(p) + len(c) for p, c in zip(prompts, completions)]
    width = max(lengths) if lengths else 0
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(prompts), width), dtype=torch.long)
    completion = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, (p, c) in enumerate(zip(prompts, completions)):
        n_p, n = len(p), len(p) + len(c)
        ids[row, :n] = torch.tensor(list(p) + list(c), dtype=torch.long)
        attention[row, :n] = 1
        completion[row, n_p:n] = 1
    return TokenBatch(ids.to(device), attention.to(device), completion.to(device))


LOGIT_ELEMENTS_PER_CHUNK = 2 ** 25  # 128 MiB of float32 logits at a time, whatever the vocabulary size


def _logit_transform(config) -> tuple[float | None, float]:
    """(final softcap, logit multiplier) that a model applies after its output head (Gemma-2/3 softcap;
    Cohere/Granite/MiniCPM-style scales), so our log-probs equal the model's own."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    softcap = getattr(text, "final_logit_softcapping", None)
    scale = getattr(text, "logit_scale", None) or getattr(text, "output_multiplier", None) or getattr(text, "lm_head_multiplier", None)
    if scale is None and getattr(text, "logits_scaling", None):
        scale = text.logits_scaling if getattr(text, "model_type", "") == "hyperclovax" else 1.0 / text.logits_scaling
    return softcap, float(scale) if scale else 1.0


def completion_logps(model: torch.nn.Module, batch: TokenBatch, chunk_tokens: int | None = None,
                     checkpoint_logits: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row sum of completion-token log-probabilities and the number of completion tokens.

    Differentiable when called with gradients enabled. Rows with no completion tokens get sum 0, count 0.
    The output head runs on ``chunk_tokens`` positions at a time (default: as many as fit in
    ``LOGIT_ELEMENTS_PER_CHUNK`` logits, so a 262k-token vocabulary does not exhaust memory); with
    ``checkpoint_logits`` each chunk's logits are recomputed in the backward pass (same values and gradients).
    """
    lm = causal_lm_of(model)
    hidden = lm.get_decoder()(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False).last_hidden_state
    predicts_completion = batch.completion_mask[:, 1:].bool()
    return _summed_logps(lm, hidden[:, :-1], batch.input_ids[:, 1:], predicts_completion, chunk_tokens, checkpoint_logits)


def _token_logps(head: torch.nn.Module, states: torch.Tensor, targets: torch.Tensor, softcap: float | None,
                 scale: float) -> torch.Tensor:
    """log p(target) of each state's row of logits."""
    logits = head(states).float()
    if scale != 1.0:
        logits = logits * scale
    if softcap:
        logits = torch.tanh(logits / softcap) * softcap
    chosen = logits.gather(1, targets[:, None]).squeeze(1)
    return chosen - torch.logsumexp(logits, dim=-1)


def _summed_logps(lm: torch.nn.Module, hidden: torch.Tensor, next_ids: torch.Tensor, predicts: torch.Tensor,
                  chunk_tokens: int | None = None, checkpoint_logits: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row sums of log p(next_ids) at the ``predicts`` positions of ``hidden``, and their counts."""
    rows = predicts.nonzero(as_tuple=True)[0]
    states = hidden[predicts]
    targets = next_ids[predicts]
    head = lm.get_output_embeddings()
    if chunk_tokens is None:
        chunk_tokens = max(1, LOGIT_ELEMENTS_PER_CHUNK // head.weight.shape[0])
    softcap, scale = _logit_transform(lm.config)
    recompute = checkpoint_logits and torch.is_grad_enabled()  # without gradients nothing is held anyway
    pieces = []
    for start in range(0, states.shape[0], chunk_tokens):
        chunk = (head, states[start:start + chunk_tokens], targets[start:start + chunk_tokens], softcap, scale)
        pieces.append(checkpoint(_token_logps, *chunk, use_reentrant=False) if recompute else _token_logps(*chunk))
    token_logps = torch.cat(pieces) if pieces else hidden.new_zeros(0, dtype=torch.float32)
    sums = torch.zeros(hidden.shape[0], dtype=torch.float32, device=hidden.device).index_add(0, rows, token_logps)
    return sums, predicts.sum(dim=1)


@torch.no_grad()
def shared_prompt_logps(model: torch.nn.Module, prompt: Sequence[int], completions: Sequence[Sequence[int]],
                        pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``completion_logps`` of several completions of one prompt, encoding the prompt once: its KV cache
    is computed once and repeated for every completion (n samples of a long-context prompt cost one
    prompt pass instead of n). Inference only."""
    if len(prompt) < 2:
        raise ValueError("a shared prompt needs at least two tokens")
    lm = causal_lm_of(model)
    decoder = lm.get_decoder()
    device = next(model.parameters()).device
    prefix = torch.tensor([list(prompt[:-1])], dtype=torch.long, device=device)
    cache = kv_cache(decoder(input_ids=prefix, use_cache=True))
    cache.batch_repeat_interleave(len(completions))
    width = 1 + max(len(c) for c in completions)
    ids = torch.full((len(completions), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(completions), width), dtype=torch.long)
    for row, completion in enumerate(completions):
        ids[row, :1 + len(completion)] = torch.tensor([prompt[-1], *completion], dtype=torch.long)
        mask[row, :1 + len(completion)] = 1
    ids, mask = ids.to(device), mask.to(device)
    attention = torch.cat([torch.ones((len(completions), prefix.shape[1]), dtype=torch.long, device=device), mask], dim=1)
    positions = torch.arange(prefix.shape[1], prefix.shape[1] + width, device=device).expand(len(completions), -1)
    hidden = decoder(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=True,
                     **{CACHE_KWARG: cache}).last_hidden_state
    return _summed_logps(lm, hidden[:, :-1], ids[:, 1:], mask[:, 1:].bool())


def token_budget_batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Group indices, longest first, so that (rows x longest row) stays within ``batch_tokens``."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * width > batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
