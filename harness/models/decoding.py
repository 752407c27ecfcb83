"""Batched sampling of n continuations per prompt with a KV cache, without ``generate``'s per-token overhead.

Each prompt is encoded once (all but its last token), its cache repeated n times, and then one forward call
per new token decodes all n x B continuations together: temperature, nucleus (top-p) and greedy selection,
stopping rows at an end-of-sequence token. For the small models of this project ``generate`` spends most of
its time around the model (logits processors, stopping criteria, input preparation) rather than in it;
``python -m harness bench --only sampling`` measures both side by side, and the tests check that greedy
decoding gives exactly ``generate``'s tokens.

Two copies a step would otherwise make are avoided: the prompt pass runs the decoder only (its logits are
never used), and the KV cache and attention mask are written into buffers sized for the whole decode
instead of being re-concatenated at every token (transformers' ``DynamicLayer`` copies the whole cache per
step). Measured side by side: SmolLM2-135M, 16 prompts x 4 x 96 tokens, 85 s -> 76-79 s; the world's tiny
policy, overhead-bound, 3%. The model sees the same tensors either way, so the tokens are identical (tested).

A run whose rows' KV cache does not fit at once (the paper's 16 prompts x 30 samples of an 8B policy) decodes them
in chunks of ``rows_per_chunk`` rows, one after another. Each row's t-th token is then drawn by inverse CDF with
its own counter-based uniform u(seed, row, t) (``harness.models.philox``) instead of ``torch.multinomial`` on the
global RNG, so a row's tokens depend on the seed, its index and the model, not on the chunk size: the memory plan
may change the chunk size without changing the samples. (Exactly so where the model computes a row's logits
independently of its batch, as on a CPU in float32; a GPU kernel chosen by batch size may move a logit in its last
bits, flipping the rare draw that lands within that distance of a token's boundary.)
"""

from __future__ import annotations

from typing import Callable, Collection

import torch
from transformers.cache_utils import DynamicLayer

from harness.models.logprobs import CACHE_KWARG, causal_lm_of, kv_cache
from harness.models.philox import counter_uniforms, draw_seed


class PreallocatedLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys and values are views of buffers with room for ``extra`` more positions:
    ``update`` writes the new positions in place (falling back to concatenation when the room runs out)."""

    def reserve(self, extra: int) -> None:
        batch, heads, length, dim = self.keys.shape
        self._key_buffer = self.keys.new_empty((batch, heads, length + extra, dim))
        self._value_buffer = self.values.new_empty((batch, heads, length + extra, self.values.shape[-1]))
        self._key_buffer[:, :, :length] = self.keys
        self._value_buffer[:, :, :length] = self.values
        self._length = length
        self.keys, self.values = self._key_buffer[:, :, :length], self._value_buffer[:, :, :length]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self._length + key_states.shape[-2]
        if end > self._key_buffer.shape[-2]:
            return super().update(key_states, value_states, *args, **kwargs)
        self._key_buffer[:, :, self._length:end] = key_states
        self._value_buffer[:, :, self._length:end] = value_states
        self._length = end
        self.keys, self.values = self._key_buffer[:, :, :end], self._value_buffer[:, :, :end]
        return self.keys, self.values


def reserve_cache(cache, extra: int) -> None:
    """Give every plain (full-attention, non-empty) layer of a transformers cache room for ``extra`` positions;
    sliding-window, quantised or other layers keep their own update."""
    for layer in getattr(cache, "layers", []):
        if type(layer) is DynamicLayer and layer.is_initialized and layer.keys.dim() == 4 and layer.keys.shape[-2] > 0:
            layer.__class__ = PreallocatedLayer
            layer.reserve(extra)


def keep_nucleus(sorted_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Probabilities sorted in descending order with everything outside the top-p nucleus zeroed: the smallest
    prefix whose probability reaches top_p (the top token always)."""
    outside = sorted_probs.cumsum(dim=-1) - sorted_probs > top_p
    return sorted_probs.masked_fill(outside, 0.0)


def select_tokens(logits: torch.Tensor, do_sample: bool, temperature: float, top_p: float) -> torch.Tensor:
    """Next token of each row: the argmax, or a draw from softmax(logits / T) cut to its top-p nucleus."""
    if not do_sample:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        probs = torch.zeros_like(probs).scatter(-1, order, keep_nucleus(sorted_probs, top_p))
    return torch.multinomial(probs, num_samples=1).squeeze(-1)


def inverse_cdf(weights: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Per row, the index whose slice of the cumulative weights holds u x the row's total: a draw from the
    normalised weights that never lands on a zero weight (u x total rounding up to the total takes the last
    positive weight)."""
    cdf = weights.cumsum(dim=-1)
    total = cdf[:, -1:].contiguous()
    index = torch.searchsorted(cdf, uniforms[:, None] * total, right=True)
    return torch.minimum(index, torch.searchsorted(cdf, total)).squeeze(-1)


def select_tokens_by_uniforms(logits: torch.Tensor, uniforms: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """``select_tokens``' sampling distribution (softmax(logits / T) cut to its top-p nucleus), each row drawn by
    inverse CDF from its given uniform instead of the global RNG."""
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p >= 1.0:
        return inverse_cdf(probs, uniforms)
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)  # stable: ties in one order on every device
    return order.gather(-1, inverse_cdf(keep_nucleus(sorted_probs, top_p), uniforms)[:, None]).squeeze(-1)


def _prompt_cache(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor):
    """The KV cache of every prompt but its last token (None for one-token prompts); the decoder only, as its
    logits are never used."""
    if ids.shape[1] <= 1:
        return None
    decoder = causal_lm_of(model).get_decoder()
    return kv_cache(decoder(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=positions[:, :-1],
                            use_cache=True))


def _decode(model: torch.nn.Module, cache, token: torch.Tensor, position: torch.Tensor, prompt_mask: torch.Tensor,
            choose: Callable[[torch.Tensor, int], torch.Tensor], max_new_tokens: int, eos_ids: Collection[int],
            pad_id: int) -> torch.Tensor:
    """Decode every row from its last prompt token (``token`` at ``position``, the rest of the prompt in ``cache``)
    until all rows have emitted an EOS or ``max_new_tokens``; ``choose(logits, step)`` picks the rows' next tokens."""
    prompt_width = prompt_mask.shape[1]
    attention_buffer = torch.ones((token.shape[0], prompt_width + max_new_tokens), dtype=prompt_mask.dtype,
                                  device=prompt_mask.device)
    attention_buffer[:, :prompt_width] = prompt_mask
    attention = attention_buffer[:, :prompt_width]
    eos = torch.tensor(sorted(eos_ids), dtype=torch.long, device=token.device)
    done = torch.zeros(token.shape[0], dtype=torch.bool, device=token.device)
    steps = []
    for step in range(max_new_tokens):
        output = model(input_ids=token, attention_mask=attention, position_ids=position, use_cache=True,
                       **({CACHE_KWARG: cache} if cache is not None else {}))
        cache = kv_cache(output)
        chosen = choose(output.logits[:, -1].float(), step)
        chosen = torch.where(done, torch.full_like(chosen, pad_id), chosen)
        steps.append(chosen)
        done |= torch.isin(chosen, eos)
        if bool(done.all()):
            break
        token = chosen[:, None]
        position = position + 1
        attention = attention_buffer[:, :attention.shape[1] + 1]
    if not steps:
        return torch.zeros((token.shape[0], 0), dtype=torch.long, device=token.device)
    return torch.stack(steps, dim=1)


@torch.no_grad()
def sample_continuations(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, n: int, *, do_sample: bool,
                         temperature: float, top_p: float, max_new_tokens: int, eos_ids: Collection[int],
                         pad_id: int, rows_per_chunk: int | None = None, seed: int | None = None) -> torch.Tensor:
    """New tokens (rows: prompt i's j-th continuation at i * n + j), padded with ``pad_id`` after EOS.

    With ``rows_per_chunk`` and ``seed`` both None, all rows decode together, drawing from torch's global RNG.
    Otherwise the rows decode ``rows_per_chunk`` at a time (None: all at once) and row r's t-th token is drawn
    with the counter-based uniform u(seed, r, t) (seed None: one drawn from the global RNG), so the tokens do not
    depend on the chunk size.
    """
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # left padding must not shift the real tokens' positions
    if rows_per_chunk is None and seed is None:
        cache = _prompt_cache(model, ids, mask, positions)
        if cache is not None:
            if n > 1:
                cache.batch_repeat_interleave(n)
            reserve_cache(cache, max_new_tokens)
        token, position = ids[:, -1:].repeat_interleave(n, dim=0), positions[:, -1:].repeat_interleave(n, dim=0)
        return _decode(model, cache, token, position, mask.repeat_interleave(n, dim=0),
                       _global_rng_chooser(do_sample, temperature, top_p), max_new_tokens, eos_ids, pad_id)
    if rows_per_chunk is not None and rows_per_chunk < 1:
        raise ValueError(f"rows_per_chunk must be at least 1, not {rows_per_chunk}")
    if do_sample and seed is None:
        seed = draw_seed()
    rows_per_chunk = ids.shape[0] * n if rows_per_chunk is None else rows_per_chunk
    return _decode_in_chunks(model, ids, mask, positions, n, rows_per_chunk, do_sample=do_sample,
                             temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens, eos_ids=eos_ids,
                             pad_id=pad_id, seed=seed)


def _global_rng_chooser(do_sample: bool, temperature: float, top_p: float) -> Callable[[torch.Tensor, int], torch.Tensor]:
    def choose(logits: torch.Tensor, step: int) -> torch.Tensor:
        return select_tokens(logits, do_sample, temperature, top_p)
    return choose


def _argmax(logits: torch.Tensor, step: int) -> torch.Tensor:
    return logits.argmax(dim=-1)


def _counter_chooser(uniforms: torch.Tensor, temperature: float, top_p: float) -> Callable[[torch.Tensor, int], torch.Tensor]:
    """Pick the rows' step-t tokens with their uniforms ``uniforms[:, t]``."""
    def choose(logits: torch.Tensor, step: int) -> torch.Tensor:
        return select_tokens_by_uniforms(logits, uniforms[:, step], temperature, top_p)
    return choose


def _decode_in_chunks(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, n: int,
                      rows_per_chunk: int, *, do_sample: bool, temperature: float, top_p: float, max_new_tokens: int,
                      eos_ids: Collection[int], pad_id: int, seed: int | None) -> torch.Tensor:
    """``sample_continuations`` one chunk of consecutive rows after another, each padded to the longest chunk."""
    total = ids.shape[0] * n
    pieces = []
    for start in range(0, total, rows_per_chunk):
        rows = torch.arange(start, min(start + rows_per_chunk, total), device=ids.device)
        choose = _counter_chooser(counter_uniforms(seed, rows, max_new_tokens), temperature, top_p) if do_sample else _argmax
        pieces.append(_decode_chunk(model, ids, mask, positions, rows // n, choose, max_new_tokens, eos_ids, pad_id))
    width = max((piece.shape[1] for piece in pieces), default=0)
    padded = [torch.nn.functional.pad(piece, (0, width - piece.shape[1]), value=pad_id) for piece in pieces]
    return torch.cat(padded) if padded else torch.zeros((0, 0), dtype=torch.long, device=ids.device)


def _decode_chunk(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor,
                  prompt_of_row: torch.Tensor, choose: Callable[[torch.Tensor, int], torch.Tensor], max_new_tokens: int,
                  eos_ids: Collection[int], pad_id: int) -> torch.Tensor:
    """Decode the rows of one chunk (``prompt_of_row``: each row's prompt, ascending). The prompt pass covers only
    the prompts these rows come from, at the whole batch's (left-padded) width, so that every chunk's tensors have
    the same shapes but for the rows; the chunk's KV cache is freed on return, before the next chunk's is built."""
    first, end = int(prompt_of_row[0]), int(prompt_of_row[-1]) + 1
    local = prompt_of_row - first
    cache = _prompt_cache(model, ids[first:end], mask[first:end], positions[first:end])
    if cache is not None:
        cache.batch_select_indices(local)
        reserve_cache(cache, max_new_tokens)
    return _decode(model, cache, ids[first:end, -1:][local], positions[first:end, -1:][local], mask[first:end][local],
                   choose, max_new_tokens, eos_ids, pad_id)
