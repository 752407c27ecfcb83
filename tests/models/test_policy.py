from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.config.schema import LoraConfig, PolicyConfig
from harness.models import decoding
from harness.models.decoding import select_tokens
from harness.models.logprobs import completion_logps, make_token_batch
from harness.models.policy import Policy


@pytest.fixture()
def policy(tiny_models):
    return Policy(PolicyConfig(model=tiny_models["policy"], lora=LoraConfig(r=4, alpha=8, dropout=0.0)))


def test_sampling_makes_n_seeded_responses_per_prompt(policy):
    prompt_ids = policy.encode_prompts(["Question: 1+1?", "Q: hi", "A longer prompt here"])
    samples = policy.generate(prompt_ids, 5, do_sample=True, temperature=0.8, max_new_tokens=6, seed=3)
    assert [len(group) for group in samples] == [5, 5, 5]
    assert all(len(s.token_ids) <= 6 for group in samples for s in group)
    again = policy.generate(prompt_ids, 5, do_sample=True, temperature=0.8, max_new_tokens=6, seed=3)
    assert [[s.token_ids for s in g] for g in samples] == [[s.token_ids for s in g] for g in again]
    assert len({tuple(s.token_ids) for g in samples for s in g}) > 3  # the n samples differ


def test_greedy_decoding_equals_transformers_generate(policy):
    prompt_ids = policy.encode_prompts(["Question: 1+1?", "Q: hi", "A considerably longer prompt here"])
    ours = [[s.token_ids for s in group] for group in policy.generate(prompt_ids, 2, do_sample=False, max_new_tokens=12)]
    ids, mask = policy._left_pad(prompt_ids)
    reference = policy.model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=12,
                                      pad_token_id=policy.tokenizer.pad_token_id, eos_token_id=sorted(policy.eos_ids))
    expected = [policy.sample_of(row).token_ids for row in reference[:, ids.shape[1]:].tolist()]
    assert ours == [[tokens, tokens] for tokens in expected]


@pytest.mark.parametrize("room", [None, 3])
def test_preallocated_kv_cache_samples_the_same_tokens_as_concatenation(policy, monkeypatch, room):
    """Writing the KV cache into buffers (with room for the whole decode, or too little, so that it falls back
    to concatenation mid-way) draws exactly the tokens transformers' growing cache does."""
    prompt_ids = policy.encode_prompts(["Question: 1+1?", "Q: hi", "A considerably longer prompt here"])
    draw = lambda: [[s.token_ids for s in g] for g in policy.generate(prompt_ids, 4, do_sample=True, temperature=0.9,
                                                                        max_new_tokens=10, seed=5)]
    converted = []
    plain_reserve = decoding.reserve_cache

    def reserve(cache, extra):
        plain_reserve(cache, extra if room is None else room)
        converted.append(sum(isinstance(layer, decoding.PreallocatedLayer) for layer in cache.layers))

    monkeypatch.setattr(decoding, "reserve_cache", reserve)
    preallocated = draw()
    assert converted and all(count == policy.model.config.num_hidden_layers for count in converted)
    monkeypatch.setattr(decoding, "reserve_cache", lambda cache, extra: None)
    assert draw() == preallocated


def test_a_sample_keeps_the_eos_it_stopped_at_for_training(policy):
    eos = policy.tokenizer.eos_token_id
    stopped = policy.sample_of([5, 6, eos, 7, 7])
    assert stopped.token_ids == [5, 6] and stopped.stop_id == eos and stopped.completion_ids == [5, 6, eos]
    unfinished = policy.sample_of([5, 6, 7])
    assert unfinished.stop_id is None and unfinished.completion_ids == [5, 6, 7]


def test_nucleus_sampling_keeps_the_top_p_mass():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]])).repeat(4000, 1)
    torch.manual_seed(0)
    drawn = select_tokens(logits, True, 1.0, 0.7)  # 0.5 + 0.3 reach 0.7: only tokens 0 and 1
    assert set(drawn.tolist()) == {0, 1}
    assert abs((drawn == 0).float().mean().item() - 0.5 / 0.8) < 0.03
    assert set(select_tokens(logits[:1], False, 1.0, 1.0).tolist()) == {0}


def test_greedy_generation_is_independent_of_batch_padding(policy):
    short, long = policy.encode_prompts(["ab", "a much longer prompt with many tokens"])
    alone = policy.generate([short], 1, do_sample=False, max_new_tokens=8)[0][0].token_ids
    batched = policy.generate([long, short], 1, do_sample=False, max_new_tokens=8)[1][0].token_ids
    assert alone == batched


@pytest.mark.parametrize("mode", ["last", "first", "mean"])
def test_embeddings_do_not_depend_on_left_padding(policy, mode):
    short, long = policy.encode_prompts(["short one", "a considerably longer prompt"])
    alone = policy.embed([short], mode)
    batched = policy.embed([long, short], mode)
    np.testing.assert_allclose(batched[1], alone[0], atol=1e-5)
    assert alone.shape == (1, policy.hidden_size)


def test_reference_is_frozen_until_the_next_snapshot(policy):
    batch = make_token_batch([[1, 5, 6]], [[7, 8, 9]], 0)

    def logps(model):
        with torch.no_grad():
            return completion_logps(model, batch)[0].item()

    with policy.reference() as ref:
        before = logps(ref)
    with torch.no_grad():
        for p in policy.trainable_parameters():
            p.add_(0.05 * torch.randn_like(p))
    with policy.reference() as ref:
        assert logps(ref) == pytest.approx(before, abs=1e-6)
    assert logps(policy.model) != pytest.approx(before, abs=1e-4)
    assert all(p.requires_grad for p in policy.trainable_parameters()) and policy.trainable_parameters()
    policy.snapshot_reference()
    with policy.reference() as ref:
        assert logps(ref) == pytest.approx(logps(policy.model), abs=1e-6)


def test_lora_settings_reach_peft(policy):
    config = policy.model.peft_config["default"]
    assert (config.r, config.lora_alpha) == (4, 8)
    trainable = {n for n, p in policy.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n and ".default." in n for n in trainable)


def test_full_finetuning_keeps_a_frozen_reference_copy(tiny_models):
    policy = Policy(PolicyConfig(model=tiny_models["policy"], lora=None))
    assert policy.trainable_parameters() and policy._reference_model is not None
    assert not any(p.requires_grad for p in policy._reference_model.parameters())
