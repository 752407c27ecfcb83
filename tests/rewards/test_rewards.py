from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers import LlamaForSequenceClassification

from harness.config.parse import from_dict
from harness.config.schema import RewardModelConfig
from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.tiny import byte_tokenizer, tiny_llama_config
from harness.rewards.pool import build_reward_models
from harness.rewards.registry import CORRECTNESS
from harness.tasks.base import Example
from harness.tasks.registry import get_task

PROMPTS = ["Question: what is 2+3?\nSolution:", "Question: is the sky green?\nSolution:"] * 2
RESPONSES = [" 2+3 = 5. Final answer: 5", " No, it is blue. Final answer: no", "", " a much longer response " * 4]


def _naive_mean_loglik(model_dir: str, prompt: str, response: str) -> float:
    tokenizer, model = load_tokenizer(model_dir), load_causal_lm(model_dir, "float32", "cpu")
    p = tokenizer(prompt)["input_ids"]
    r = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([p + r])
    with torch.no_grad():
        logps = torch.log_softmax(model(ids).logits[0, :-1].float(), -1)
    targets = ids[0, 1:]
    token_logps = logps[torch.arange(len(targets)), targets][len(p) - 1:]
    return token_logps.mean().item()


def _pool(tiny_models, *configs):
    return build_reward_models([from_dict(RewardModelConfig, c) for c in configs], get_task("gsm8k").gold_reward, seed=0)


def test_loglik_is_the_mean_token_log_likelihood(tiny_models):
    pool = _pool(tiny_models, {"name": "a", "kind": "loglik", "model": tiny_models["rm_a"], "batch_tokens": 64})
    scores = pool["a"].score(PROMPTS, RESPONSES)
    expected = [_naive_mean_loglik(tiny_models["rm_a"], p, r) for p, r in zip(PROMPTS, RESPONSES)]
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_scores_do_not_depend_on_batching(tiny_models):
    small = _pool(tiny_models, {"name": "a", "kind": "loglik", "model": tiny_models["rm_a"], "batch_tokens": 16})
    large = _pool(tiny_models, {"name": "a", "kind": "loglik", "model": tiny_models["rm_a"], "batch_tokens": 100000})
    np.testing.assert_allclose(small["a"].score(PROMPTS, RESPONSES), large["a"].score(PROMPTS, RESPONSES), atol=1e-5)


def test_implicit_reward_is_beta_times_the_log_ratio(tiny_models):
    pool = _pool(tiny_models,
                 {"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
                 {"name": "b", "kind": "loglik", "model": tiny_models["rm_b"]},
                 {"name": "self", "kind": "implicit", "model": tiny_models["rm_a"], "reference": tiny_models["rm_a"]},
                 {"name": "ab", "kind": "implicit", "model": tiny_models["rm_a"], "reference": tiny_models["rm_b"], "beta": 0.5})
    assert pool["self"].score(PROMPTS, RESPONSES) == pytest.approx([0.0] * 4, abs=1e-6)
    assert pool["self"].model is pool["a"].model  # one copy of a model shared by the RMs that name it
    tokenizer = load_tokenizer(tiny_models["rm_a"])
    lengths = np.array([len(tokenizer(r, add_special_tokens=False)["input_ids"]) + 1 for r in RESPONSES])
    expected = 0.5 * lengths * (np.array(pool["a"].score(PROMPTS, RESPONSES)) - np.array(pool["b"].score(PROMPTS, RESPONSES)))
    np.testing.assert_allclose(pool["ab"].score(PROMPTS, RESPONSES), expected, atol=1e-4)


def test_classifier_reward_is_the_scalar_head(tmp_path, tiny_models):
    torch.manual_seed(0)
    config = tiny_llama_config(259)
    config.num_labels = 1
    model = LlamaForSequenceClassification(config)
    model.save_pretrained(tmp_path / "clf")
    byte_tokenizer().save_pretrained(tmp_path / "clf")
    pool = _pool(tiny_models, {"name": "c", "kind": "classifier", "model": str(tmp_path / "clf")})
    scores = pool["c"].score(PROMPTS, RESPONSES)
    tokenizer = byte_tokenizer()
    with torch.no_grad():
        expected = [model.eval()(torch.tensor([tokenizer(p + r)["input_ids"]])).logits[0, 0].item()
                    for p, r in zip(PROMPTS, RESPONSES)]
    np.testing.assert_allclose(scores, expected, atol=1e-5)


def test_correctness_uses_the_tasks_answer_check(tiny_models):
    pool = _pool(tiny_models)
    golds = [Example("1", "q", "5"), Example("2", "q", "5")]
    assert pool[CORRECTNESS].score(["p", "p"], ["Final answer: 5", "Final answer: 6"], golds) == [1.0, 0.0]
    with pytest.raises(ValueError, match="gold reference"):
        pool[CORRECTNESS].score(["p"], ["x"])


def test_noisy_rm_adds_seeded_gaussian_noise(tiny_models):
    configs = ({"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]},
               {"name": "quiet", "kind": "noisy", "base": "a", "sigma": 0.0},
               {"name": "loud", "kind": "noisy", "base": "a", "sigma": 2.0})
    pool, again = _pool(tiny_models, *configs), _pool(tiny_models, *configs)
    clean = np.array(pool["a"].score(PROMPTS, RESPONSES))
    np.testing.assert_allclose(pool["quiet"].score(PROMPTS, RESPONSES), clean)
    state = pool["loud"].state_dict()
    noisy = np.array(pool["loud"].score(PROMPTS * 50, RESPONSES * 50))
    np.testing.assert_allclose(noisy, again["loud"].score(PROMPTS * 50, RESPONSES * 50))
    residual = noisy - np.tile(clean, 50)
    assert 1.6 < residual.std() < 2.4 and abs(residual.mean()) < 0.5
    pool["loud"].load_state_dict(state)
    np.testing.assert_allclose(pool["loud"].score(PROMPTS * 50, RESPONSES * 50), noisy)


def test_responses_to_one_prompt_share_its_pass_with_the_same_result(tiny_models):
    from harness.rewards.scoring import sequence_logps

    model, tokenizer = load_causal_lm(tiny_models["rm_a"], "float32", "cpu"), load_tokenizer(tiny_models["rm_a"])
    rng = np.random.default_rng(0)
    long_prompt, short_prompt = list(rng.integers(3, 250, 90)), list(rng.integers(3, 250, 7))
    prompts = [long_prompt] * 5 + [short_prompt] * 2 + [[5]]
    responses = [list(rng.integers(3, 250, int(rng.integers(0, 12)))) for _ in prompts]
    for budget in (64, 4096):  # 64 tokens forces one response per shared chunk
        shared = sequence_logps(model, tokenizer.pad_token_id, prompts, responses, budget, share_prompts=True, share_min_tokens=2)
        separate = sequence_logps(model, tokenizer.pad_token_id, prompts, responses, budget, share_prompts=False)
        np.testing.assert_allclose(shared[0], separate[0], atol=1e-4)
        np.testing.assert_array_equal(shared[1], separate[1])


def test_long_prompts_are_cut_in_the_middle_before_scoring(tiny_models):
    long_prompt = "BEGIN " + "filler text " * 200 + " END?"
    cut = _pool(tiny_models, {"name": "a", "kind": "loglik", "model": tiny_models["rm_a"], "max_prompt_tokens": 40})["a"]
    whole = _pool(tiny_models, {"name": "a", "kind": "loglik", "model": tiny_models["rm_a"]})["a"]
    from harness.rewards.scoring import shorten_prompt

    shortened = shorten_prompt(load_tokenizer(tiny_models["rm_a"]), long_prompt, 40)
    assert shortened.startswith("BEGIN") and shortened.endswith("END?") and len(shortened) == 40  # byte tokens
    assert cut.score([long_prompt], [" yes"]) == pytest.approx(whole.score([shortened], [" yes"]), abs=1e-5)
