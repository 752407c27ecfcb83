"""Chunked sampling: decoding a step's rows a chunk at a time, each row drawn from its own counter-based stream,
samples the same tokens whatever the chunk size, and the counter-based draws are a correct sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.config.schema import LoraConfig, PolicyConfig
from harness.models.decoding import inverse_cdf, sample_continuations, select_tokens_by_uniforms
from harness.models.logprobs import causal_lm_of
from harness.models.philox import counter_uniforms, philox4x32
from harness.models.policy import Policy

N = 4
PROMPTS = ["Question: 1+1?", "Q: hi", "A considerably longer prompt here"]
CHUNK_SIZES = [1, 3, N, 2 * N + 1, len(PROMPTS) * N]
# chi-square critical values at p = 0.001 (the draws are seeded, so a pass is a fixed fact, not a chance)
CHI2_CRITICAL = {1: 10.83, 2: 13.82, 3: 16.27, 7: 24.32, 15: 37.70}


@pytest.fixture()
def policy(tiny_models):
    return Policy(PolicyConfig(model=tiny_models["policy"], lora=LoraConfig(r=4, alpha=8, dropout=0.0)))


def _tokens(policy: Policy, rows: int | None, **settings) -> list[list[list[int]]]:
    policy.generation_rows = rows
    groups = policy.generate(policy.encode_prompts(PROMPTS), N, **settings)
    return [[sample.completion_ids for sample in group] for group in groups]


def _decode(policy: Policy, rows: int | None, seed: int | None, eos_ids: set[int], **settings) -> torch.Tensor:
    ids, mask = policy._left_pad(policy.encode_prompts(PROMPTS))
    policy.model.eval()
    return sample_continuations(policy.model, ids, mask, N, eos_ids=eos_ids, pad_id=policy.tokenizer.pad_token_id,
                                rows_per_chunk=rows, seed=seed, **settings)


def _chi_square(counts: np.ndarray, probs: np.ndarray) -> float:
    expected = probs * counts.sum()
    return float(((counts - expected) ** 2 / expected).sum())


# ----- the counter-based generator ------------------------------------------------------------------------
@pytest.mark.parametrize("counter, key, expected", [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
])
def test_philox_matches_random123s_known_answers(counter, key, expected):
    """Random123's tests/kat_vectors, the three philox4x32 10 lines: the int64 implementation is Philox4x32-10."""
    words = philox4x32(tuple(torch.tensor([word], dtype=torch.int64) for word in counter), key)
    assert tuple(int(word) for word in words) == expected


def test_a_rows_uniforms_depend_only_on_the_seed_its_index_and_the_step():
    everything = counter_uniforms(7, torch.arange(50), 6)
    assert everything.shape == (50, 6) and everything.dtype == torch.float32
    assert torch.equal(counter_uniforms(7, torch.tensor([31, 3]), 6), everything[[31, 3]])
    assert torch.equal(counter_uniforms(7, torch.tensor([3]), 4), everything[[3], :4])
    assert not torch.equal(counter_uniforms(8, torch.arange(50), 6), everything)
    assert counter_uniforms(2 ** 64 + 7, torch.arange(50), 6).equal(everything)  # seeds are taken modulo 2**64


def test_counter_uniforms_are_uniform():
    draws = counter_uniforms(3, torch.arange(20_000), 8).flatten().numpy()
    assert draws.min() >= 0.0 and draws.max() < 1.0
    assert np.all(draws * 2 ** 24 == np.floor(draws * 2 ** 24))  # k / 2**24, exact in float32
    counts = np.bincount((draws * 16).astype(int), minlength=16)
    assert _chi_square(counts, np.full(16, 1 / 16)) < CHI2_CRITICAL[15]
    assert len(np.unique(draws)) > 0.99 * len(draws)


def test_inverse_cdf_never_lands_on_a_zero_weight():
    weights = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0]]).repeat(5, 1)
    uniforms = torch.tensor([0.0, 0.4999, 0.5, 1 - 2 ** -24, 1.0])  # 1.0: u x total at the total itself
    assert inverse_cdf(weights, uniforms).tolist() == [1, 1, 3, 3, 3]


@pytest.mark.parametrize("temperature", [1.0, 0.8])
def test_counter_draws_follow_the_softmax(temperature):
    logits = torch.tensor([1.2, 0.3, -0.5, 2.0, 0.0, -1.5, 0.9, 0.4])
    rows = 40_000
    drawn = select_tokens_by_uniforms(logits.repeat(rows, 1), counter_uniforms(1, torch.arange(rows), 1)[:, 0],
                                      temperature, 1.0)
    probs = torch.softmax(logits / temperature, dim=-1).double().numpy()
    assert _chi_square(np.bincount(drawn.numpy(), minlength=8), probs) < CHI2_CRITICAL[7]


@pytest.mark.parametrize("probs, top_p", [
    ([0.5, 0.3, 0.15, 0.05], 0.7),          # 0.5 + 0.3 reach 0.7: tokens 0 and 1
    ([0.05, 0.15, 0.5, 0.3], 0.75),         # the same rule in another vocabulary order: 2 and 3
    ([0.1, 0.25, 0.05, 0.2, 0.4], 0.9),     # sorted 0.4, 0.25, 0.2, 0.1 reach 0.95: four tokens
])
def test_counter_draws_keep_exactly_the_top_p_nucleus(probs, top_p):
    probs_np = np.array(probs)
    order = np.argsort(-probs_np, kind="stable")
    mass_before = np.cumsum(probs_np[order]) - probs_np[order]
    nucleus = np.zeros_like(probs_np)
    nucleus[order[mass_before <= top_p]] = probs_np[order[mass_before <= top_p]]
    rows = 40_000
    logits = torch.log(torch.tensor(probs)).repeat(rows, 1)
    drawn = select_tokens_by_uniforms(logits, counter_uniforms(2, torch.arange(rows), 1)[:, 0], 1.0, top_p).numpy()
    assert set(drawn.tolist()) == set(np.flatnonzero(nucleus).tolist())
    kept = np.flatnonzero(nucleus)
    counts = np.bincount(drawn, minlength=len(probs))[kept]
    assert _chi_square(counts, nucleus[kept] / nucleus.sum()) < CHI2_CRITICAL[len(kept) - 1]


# ----- chunked sampling -----------------------------------------------------------------------------------
@pytest.mark.parametrize("top_p", [1.0, 0.9])
def test_every_chunk_size_samples_the_same_tokens(policy, top_p):
    """Rows decoded 1, 3, n, 2n+1 or all at a time (chunks starting and ending inside a prompt's n rows, prompts
    of different lengths) draw the same tokens for the same seed."""
    settings = dict(do_sample=True, temperature=0.8, top_p=top_p, max_new_tokens=12, seed=11)
    by_size = {rows: _tokens(policy, rows, **settings) for rows in CHUNK_SIZES}
    assert all(tokens == by_size[1] for tokens in by_size.values())
    rows = [tuple(sample) for group in by_size[1] for sample in group]
    assert len(set(rows)) > len(rows) // 2  # the n samples of a prompt differ
    assert _tokens(policy, 3, **{**settings, "seed": 12}) != by_size[1]


def test_chunks_stop_at_eos_and_pad_like_one_batch(policy):
    """With many EOS tokens rows stop at different steps, some chunks stop early: the rows, their padding and the
    output's width (the longest chunk's) are the same for every chunk size."""
    eos_ids = set(range(3, 259, 7))
    settings = dict(do_sample=True, temperature=0.8, top_p=1.0, max_new_tokens=20)
    by_size = {rows: _decode(policy, rows, 5, eos_ids, **settings) for rows in [*CHUNK_SIZES, None]}
    reference = by_size[None]
    assert all(torch.equal(tokens, reference) for tokens in by_size.values())
    pad = policy.tokenizer.pad_token_id
    lengths = []
    for row in reference.tolist():
        stop = next((i for i, token in enumerate(row) if token in eos_ids), None)
        lengths.append(len(row) if stop is None else stop + 1)
        assert all(token == pad for token in row[lengths[-1]:])
    assert reference.shape == (len(PROMPTS) * N, max(lengths)) and len(set(lengths)) > 2
    assert min(lengths) < reference.shape[1]


def test_greedy_chunks_equal_todays_greedy(policy):
    settings = dict(do_sample=False, max_new_tokens=12)
    unchunked = _tokens(policy, None, **settings)
    assert all(_tokens(policy, rows, **settings) == unchunked for rows in CHUNK_SIZES)
    eos_ids = set(range(3, 259, 5))  # rows stopping at different steps
    plain = _decode(policy, None, None, eos_ids, do_sample=False, temperature=1.0, top_p=1.0, max_new_tokens=16)
    assert all(torch.equal(_decode(policy, rows, None, eos_ids, do_sample=False, temperature=1.0, top_p=1.0,
                                   max_new_tokens=16), plain) for rows in CHUNK_SIZES)


def test_a_chunk_encodes_only_its_prompts_at_the_batch_width(policy):
    calls = []

    def record(module, args, kwargs):
        calls.append(tuple(kwargs["input_ids"].shape) + (kwargs["attention_mask"].shape[1],))

    handle = causal_lm_of(policy.model).get_decoder().register_forward_pre_hook(record, with_kwargs=True)
    try:
        _decode(policy, 3, 5, policy.eos_ids, do_sample=True, temperature=0.8, top_p=1.0, max_new_tokens=4)
    finally:
        handle.remove()
    width = policy._left_pad(policy.encode_prompts(PROMPTS))[0].shape[1]
    prompt_passes = [call for call in calls if call[1] > 1]
    # rows 0-2: prompt 0; 3-5: prompts 0, 1; 6-8: prompts 1, 2; 9-11: prompt 2
    assert prompt_passes == [(1, width - 1, width - 1), (2, width - 1, width - 1), (2, width - 1, width - 1),
                             (1, width - 1, width - 1)]
    steps = [call for call in calls if call[1] == 1]
    assert len(steps) == 4 * 4 and {call[0] for call in steps} == {3}
    assert [call[2] for call in steps[:4]] == [width, width + 1, width + 2, width + 3]


def test_an_unseeded_chunked_call_draws_its_seed_from_the_global_rng(policy):
    settings = dict(do_sample=True, temperature=0.8, top_p=1.0, max_new_tokens=8)
    torch.manual_seed(4)
    first = _tokens(policy, 5, **settings)
    torch.manual_seed(4)
    assert _tokens(policy, 2, **settings) == first
    assert _tokens(policy, 5, **settings) != first


def test_chunked_sampling_edge_cases(policy):
    none = _decode(policy, 2, 1, policy.eos_ids, do_sample=True, temperature=0.8, top_p=1.0, max_new_tokens=0)
    assert none.shape == (len(PROMPTS) * N, 0)
    with pytest.raises(ValueError, match="rows_per_chunk"):
        _decode(policy, 0, 1, policy.eos_ids, do_sample=True, temperature=0.8, top_p=1.0, max_new_tokens=2)
    one_token = torch.ones((2, 1), dtype=torch.long)  # no prompt pass, no cache to start from
    decode = lambda rows, seed, **settings: sample_continuations(
        policy.model.eval(), one_token, one_token, 3, max_new_tokens=6, eos_ids=policy.eos_ids, pad_id=0, rows_per_chunk=rows,
        seed=seed, **settings)
    greedy, sampled = dict(do_sample=False, temperature=1.0, top_p=1.0), dict(do_sample=True, temperature=0.8, top_p=0.9)
    assert torch.equal(decode(2, None, **greedy), decode(None, None, **greedy))
    assert torch.equal(decode(2, 9, **sampled), decode(None, 9, **sampled))
