"""Reward models format their input with their own chat template by default when their tokenizer has one (as
RewardBench does), never when it has none, and a run records what each RM used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.config.errors import ConfigError
from harness.config.parse import from_dict
from harness.config.schema import RewardModelConfig
from harness.rewards.pool import build_reward_models

TEMPLATE = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"


@pytest.fixture(scope="module")
def chat_rm(tiny_models, tmp_path_factory) -> str:
    """rm_a's weights with a tokenizer that carries a chat template (a chat RM)."""
    folder = tmp_path_factory.mktemp("chat_rm") / "rm"
    shutil.copytree(tiny_models["rm_a"], folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["chat_template"] = TEMPLATE
    config_path.write_text(json.dumps(config))
    return str(folder)


def _pool(entries: list[dict]):
    return build_reward_models([from_dict(RewardModelConfig, e) for e in entries], lambda text, example: 0.0, 0)


def test_the_default_follows_the_tokenizer_and_false_turns_it_off(tiny_models, chat_rm):
    pool = _pool([{"name": "chat", "kind": "loglik", "model": chat_rm},
                  {"name": "chat_off", "kind": "loglik", "model": chat_rm, "chat_template": False},
                  {"name": "plain", "kind": "loglik", "model": tiny_models["rm_a"]}])
    assert [pool[n].record() for n in ("chat", "chat_off", "plain")] == [
        {"chat_template": True}, {"chat_template": False}, {"chat_template": False}]
    prompts, responses = ["What is 2 + 2?"] * 2, ["4", "five"]
    # same weights: the plain RM and the chat RM with its template off score alike; the template changes the input
    assert pool["chat_off"].score(prompts, responses) == pytest.approx(pool["plain"].score(prompts, responses))
    assert pool["chat"].score(prompts, responses) != pytest.approx(pool["plain"].score(prompts, responses))


def test_true_without_a_template_names_the_setting(tiny_models):
    with pytest.raises(ConfigError, match="chat_template: true, but the tokenizer of .* has no chat template"):
        _pool([{"name": "plain", "kind": "loglik", "model": tiny_models["rm_a"], "chat_template": True}])


def test_a_run_records_each_rms_choice(tiny_models, chat_rm, data_dir, tmp_path):
    from harness.loop.run_config import build_run_config
    from harness.run.execute import execute_run
    from tests.conftest import tiny_run_config

    config = tiny_run_config(tiny_models, data_dir, tmp_path, method={"name": "random_rm"},
                             reward_models=[{"name": "rm_chat", "kind": "loglik", "model": chat_rm},
                                            {"name": "rm_b", "kind": "loglik", "model": tiny_models["rm_b"]}],
                             best_rm="rm_b")
    config["train"]["max_steps_per_iteration"] = 1
    metrics = execute_run(build_run_config(config))
    assert metrics["reward_model_settings"] == {"rm_chat": {"chat_template": True}, "rm_b": {"chat_template": False}}
    assert json.loads((Path(config["out"]) / "metrics.json").read_text())["reward_model_settings"]["rm_chat"]["chat_template"]
