"""Batched sampling of n continuations per prompt with a KV cache, without ``generate``'s per-token overhead.

Each prompt is encoded once (all but its last token), its cache repeated n times, and then one forward call
per new token decodes all n x B continuations together: temperature, nucleus (top-p) and greedy selection,
stopping rows at an end-of-sequence token. For the small models of this project ``generate`` spends most of
its time around the model (logits processors, stopping criteria, input preparation) rather than in it;
``python -m harness bench --only sampling`` measures both side by side, and the tests check that greedy
decoding gives exactly ``generate``'s tokens.
"""

from __future__ import annotations

from typing import Collection

import torch

from harness.models.logprobs import CACHE_KWARG, kv_cache


def select_tokens(logits: torch.Tensor, do_sample: bool, temperature: float, top_p: float) -> torch.Tensor:
    """Next token of each row: the argmax, or a draw from softmax(logits / T) cut to its top-p nucleus."""
    if not do_sample:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:  # keep the smallest set of tokens whose probability reaches top_p (the top token always)
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
        sorted_probs = sorted_probs.masked_fill(outside, 0.0)
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs)
    return torch.multinomial(probs, num_samples=1).squeeze(-1)


@torch.no_grad()
def sample_continuations(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, n: int, *, do_sample: bool,
                         temperature: float, top_p: float, max_new_tokens: int, eos_ids: Collection[int],
                         pad_id: int) -> torch.Tensor:
    """New tokens (rows: prompt i's j-th continuation at i * n + j), padded with ``pad_id`` after EOS."""
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift the real tokens' positions
    last, last_position = ids[:, -1:], positions[:, -1:]
    cache = None
    if ids.shape[1] > 1:
        cache = kv_cache(model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                               use_cache=True))
        if n > 1:
            cache.batch_repeat_interleave(n)
    token = last.repeat_interleave(n, dim=0)
    position = last_position.repeat_interleave(n, dim=0)
    attention = mask.repeat_interleave(n, dim=0)
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=ids.device)
    done = torch.zeros(token.shape[0], dtype=torch.bool, device=ids.device)
    steps = []
    for _ in range(max_new_tokens):
        output = model(input_ids=token, attention_mask=attention, position_ids=position, use_cache=True,
                       **({CACHE_KWARG: cache} if cache is not None else {}))
        cache = kv_cache(output)
        chosen = select_tokens(output.logits[:, -1].float(), do_sample, temperature, top_p)
        chosen = torch.where(done, torch.full_like(chosen, pad_id), chosen)
        steps.append(chosen)
        done |= torch.isin(chosen, eos)
        if bool(done.all()):
            break
        token = chosen[:, None]
        position = position + 1
        attention = torch.cat([attention, torch.ones_like(attention[:, :1])], dim=1)
    if not steps:
        return torch.zeros((token.shape[0], 0), dtype=torch.long, device=ids.device)
    return torch.stack(steps, dim=1)
