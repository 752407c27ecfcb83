"""Pairwise judges: AlpacaEval's encoding, position-bias cancellation, RM and alpaca_eval annotator kinds."""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
import yaml

from harness.config.parse import from_dict
from harness.config.schema import JudgeConfig
from harness.rewards.judges.lm import clf_template, fill
from harness.rewards.judges.registry import build_judge


def test_the_clf_template_is_read_from_alpaca_eval_and_filled_verbatim():
    messages = clf_template()
    assert [m["role"] for m in messages] == ["system", "user"]
    filled = fill(messages, "Say {hi}", "first {output_2}", "second")
    assert '"""Say {hi}"""' in filled[1]["content"]
    assert '"""first {output_2}"""' in filled[1]["content"] and '"""second"""' in filled[1]["content"]
    assert "m or M" in filled[1]["content"]


@pytest.fixture(scope="module")
def lm_judge(tiny_models):
    return build_judge(from_dict(JudgeConfig, {"kind": "lm", "model": tiny_models["rm_a"], "max_output_tokens": 32, "batch_size": 3}))


def test_lm_judge_cancels_position_bias(lm_judge):
    instructions = ["Name a colour.", "Add 2 and 3.", "Greet me."]
    first = ["Blue.", "5", "Hello there!"]
    second = ["I like turtles.", "It is 6.", "Goodbye."]
    forward = np.array(lm_judge.preferences(instructions, first, second))
    backward = np.array(lm_judge.preferences(instructions, second, first))
    assert np.all((forward >= 1) & (forward <= 2))
    np.testing.assert_allclose(forward, 3 - backward, atol=1e-6)   # swapping the outputs mirrors the preference
    same = lm_judge.preferences(instructions, first, first)
    np.testing.assert_allclose(same, 1.5, atol=1e-6)                # identical outputs tie exactly


def test_reward_model_judge_prefers_the_higher_scored_output(tiny_models):
    judge = build_judge(from_dict(JudgeConfig, {"kind": "reward_model",
                                                "reward_model": {"name": "rm_a", "kind": "loglik", "model": tiny_models["rm_a"]}}))
    rm = judge.rm
    instructions, a, b = ["Say yes."] * 2, ["yes", "no no no no"], ["no no no no", "yes"]
    prefs = np.array(judge.preferences(instructions, a, b))
    scores_a, scores_b = np.array(rm.score(instructions, a)), np.array(rm.score(instructions, b))
    np.testing.assert_allclose(prefs, 2 - 1 / (1 + np.exp(-(scores_a - scores_b))))
    assert (prefs[0] < 1.5) == (scores_a[0] > scores_b[0])


def test_alpaca_eval_annotator_config_runs_through_alpaca_eval(tmp_path):
    """A user-supplied annotator config (here alpaca_eval's offline test decoder, always answering "M")."""
    template = resources.files("alpaca_eval").joinpath("evaluators_configs", "alpaca_eval_clf_gpt4_turbo", "alpaca_eval_clf.txt")
    config = {"always_second": {
        "prompt_template": str(template), "fn_completions": "test_completions",
        "completions_kwargs": {"model_name": "test", "value": "M"},
        "fn_completion_parser": "regex_parser", "completion_parser_kwargs": {"outputs_to_match": {1: "^m$", 2: "^M$"}},
        "batch_size": 1, "is_randomize_output_order": False}}
    path = tmp_path / "always_second" / "configs.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(config))
    judge = build_judge(from_dict(JudgeConfig, {"kind": "alpaca_eval", "annotator": str(path)}))
    assert judge.preferences(["q1", "q2", "q3"], ["a", "b", "c"], ["d", "e", "f"]) == [2.0, 2.0, 2.0]


def test_unknown_judge_kind_is_named():
    from harness.config.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="judge"):
        build_judge(JudgeConfig(kind="gpt5"))
