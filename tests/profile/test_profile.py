"""On-policy RM competence: pairwise accuracy and AUC against hand-computed cases, the profile of a tiny run
(bookkeeping, the correctness RM as a check, the cache), the teaching statistics leaving the rest of it as it was,
and a task without gold answers refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness.config.errors import ConfigError
from harness.loop.run_config import build_run_config
from harness.profile import build
from harness.profile.build import ensure_profile, measure_profile
from harness.profile.competence import auc, aucs, measure
from harness.report.stats import bootstrap_difference

from conftest import tiny_run_config


def test_pairwise_accuracy_and_auc_equal_a_hand_computed_case():
    # prompt p: correct 0.9 and 0.2, incorrect 0.5 and 0.2 -> pairs (0.9>0.5) (0.9>0.2) (0.2<0.5) (0.2=0.2): 2.5 of 4
    # prompt q: correct 0.1, incorrect 0.3 -> 0 of 1; prompt r: only incorrect -> no pair
    scores = [0.9, 0.2, 0.5, 0.2, 0.1, 0.3, 0.7]
    correct = [True, True, False, False, True, False, False]
    groups = ["p", "p", "p", "p", "q", "q", "r"]
    result = measure(scores, correct, groups, resamples=200, seed=1)
    assert result.pairwise_accuracy == pytest.approx(2.5 / 5)
    assert (result.pairs, result.prompts, result.samples, result.correct) == (5, 2, 7, 3)
    # pooled AUC: correct {0.9, 0.2, 0.1} vs incorrect {0.5, 0.2, 0.3, 0.7}: 0.9 beats 4, 0.2 beats 0 ties 1, 0.1 beats 0
    assert result.auc == pytest.approx((4 + 0.5 + 0) / 12)
    low, high = result.auc_ci
    assert 0.0 <= low <= result.auc <= high <= 1.0
    assert auc(np.array([1.0, 2.0]), np.array([True, True])) is None  # no incorrect response: undefined


def test_perfect_and_inverted_scores():
    correct = np.array([True, False] * 10)
    groups = np.repeat(np.arange(10), 2)
    perfect = measure(correct.astype(float), correct, groups, resamples=50)
    inverted = measure(-correct.astype(float), correct, groups, resamples=50)
    assert perfect.auc == perfect.pairwise_accuracy == 1.0 and inverted.auc == inverted.pairwise_accuracy == 0.0
    assert perfect.auc_ci == (1.0, 1.0)


def test_the_bootstrap_in_one_matrix_gives_the_aucs_of_the_loop_over_resamples():
    rng = np.random.default_rng(5)
    scores = rng.integers(0, 6, size=(40, 24)).astype(float)   # many ties
    correct = rng.uniform(size=(40, 24)) < 0.3
    correct[3], correct[4] = True, False                      # rows with one kind only
    expected = [auc(s, c) for s, c in zip(scores, correct)]
    got = aucs(scores, correct)
    assert [None if np.isnan(v) else float(v) for v in got] == expected   # exactly, not approximately
    groups = np.repeat(np.arange(12), 2)
    one = measure(scores[0], correct[0], groups, resamples=200, seed=1)
    uneven = measure(np.append(scores[0], 2.0), np.append(correct[0], True), np.append(groups, 11), resamples=200, seed=1)
    assert one.auc_ci is not None and uneven.auc_ci is not None and one.pairwise_ci is not None


def test_bootstrap_difference_of_paired_seeds():
    mean, low, high = bootstrap_difference([3.0, 4.0, 5.0], [1.0, 1.0, 1.0], resamples=2000)
    assert mean == pytest.approx(3.0) and 2.0 <= low <= mean <= high <= 4.0


def test_profile_of_a_tiny_run_is_cached_and_complete(tiny_models, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["profile"] = {"max_prompts": 4, "num_samples": 3, "resamples": 20}
    config = build_run_config(data)
    profile = ensure_profile(config)
    assert profile["task"] == "gsm8k" and profile["num_samples"] == 3
    category = profile["categories"]["all"]
    assert (category["prompts"], category["samples"]) == (4, 12)
    assert set(category["reward_models"]) == {"rm_a", "rm_b", "correctness"}
    for competence in category["reward_models"].values():
        assert competence["samples"] == 12 and (competence["auc"] is None or 0.0 <= competence["auc"] <= 1.0)
    stored = list((tmp_path / "cache" / "profiles").glob("*.json"))
    assert len(stored) == 1 and json.loads(stored[0].read_text())["key"] == profile["key"]
    monkeypatch.setattr(build, "measure_profile", lambda *a, **k: pytest.fail("a cached profile was measured again"))
    assert ensure_profile(config) == profile


def test_a_sweep_measures_each_missing_profile_once_before_its_runs(tiny_models, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["profile"] = {"max_prompts": 2, "num_samples": 2, "resamples": 10}
    with_profile = build_run_config(data)
    other_seed = build_run_config({**data, "seed": 1, "out": str(tmp_path / "run1")})  # the profile does not depend on it
    without = build_run_config({**data, "profile": None, "out": str(tmp_path / "run2")})
    calls = []
    real = build.ensure_profile
    monkeypatch.setattr(build, "ensure_profile", lambda config, *a, **k: calls.append(config.seed) or real(config, *a, **k))
    (task, outcome), = build.measure_missing_profiles([without, with_profile, other_seed])
    assert task == "gsm8k" and "measured in" in outcome and calls == [0]
    assert build.measure_missing_profiles([with_profile]) == []  # cached now: nothing to do

    def failing(config, *args, **kwargs):
        raise RuntimeError("no such model")

    monkeypatch.setattr(build, "ensure_profile", failing)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "empty"))
    (task, outcome), = build.measure_missing_profiles([with_profile])  # left to the runs, which record the error
    assert outcome.startswith("not measured (RuntimeError: no such model)")


def test_a_task_without_gold_answers_is_refused_with_one_clear_error(tiny_models, data_dir, tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Write a poem about {w}."}) + "\n"
                               for i, w in enumerate(["rain", "snow", "sun", "wind"])))
    data = tiny_run_config(tiny_models, data_dir, tmp_path, task={"name": "wildchat", "path": str(prompts),
                                                                  "split_fractions": [0.5, 0.0, 0.5]})
    data["profile"] = {}
    with pytest.raises(ConfigError, match="profile: task 'wildchat' has no gold answers"):
        build_run_config(data)
    data.pop("profile")
    with pytest.raises(ConfigError, match="no gold answers"):
        measure_profile(build_run_config(data, check_data=False))


def test_a_noisy_rm_reuses_its_base_scores_and_the_batch_size_is_part_of_the_key(tiny_models, data_dir, tmp_path, monkeypatch):
    from harness.rewards.loglik import LogLikelihoodRM

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["reward_models"] = data["reward_models"][:1] + [
        {"name": "rm_noisy", "kind": "noisy", "base": data["reward_models"][0]["name"], "sigma": 1.0}]
    data["profile"] = {"max_prompts": 4, "num_samples": 2, "resamples": 20}
    calls = []
    score = LogLikelihoodRM.score
    monkeypatch.setattr(LogLikelihoodRM, "score", lambda self, *a, **k: calls.append(len(a[0])) or score(self, *a, **k))
    profile = ensure_profile(build_run_config(data))
    assert len(calls) == 1 and set(profile["reward_models"]) == {data["reward_models"][0]["name"], "rm_noisy"}
    data["profile"]["batch_size"] = 2  # other sampling batches give other draws: another profile
    assert ensure_profile(build_run_config(data))["key"] != profile["key"]


def test_the_teaching_statistics_leave_the_other_numbers_as_they_were(tiny_models, data_dir, tmp_path, monkeypatch):
    """The same draws with and without the version-2 statistics: every other number of the profile (and so the
    best RM per category, oracle_rm's choice) is what version 1 measured. A stand-in gold answer (an even-length
    response is right) gives the tiny policy right and wrong responses, so the AUCs are defined."""
    from harness.tasks.gsm8k import GSM8K

    monkeypatch.setattr(GSM8K, "is_correct", lambda self, text, example: len(text) % 2 == 0)
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["profile"] = {"max_prompts": 6, "num_samples": 4, "resamples": 20}
    config = build_run_config(data)
    profile = measure_profile(config, progress=False)
    measured = profile["categories"]["all"]
    assert 0 < measured["sample_accuracy"] < 1 and measured["reward_models"]["rm_a"]["auc"] is not None
    # the correctness RM scores 0 or 1: each of its pairs is (right, wrong) with margin 1, normalised by sqrt(p (1 - p))
    gold = measured["reward_models"]["correctness"]
    p = measured["sample_accuracy"]
    assert gold["margin_pairs"] > 0 and gold["mean_margin"] == pytest.approx(1 / np.sqrt(p * (1 - p)))
    assert all(c["reward_std"] > 0 for c in measured["reward_models"].values())

    monkeypatch.setattr(build, "pair_margins", lambda *a, **k: pytest.fail("drawn although stubbed out"))
    monkeypatch.setattr(build, "normaliser", lambda values: None)  # as version 1: no statistic, no pair drawn
    without = measure_profile(config, progress=False)
    new_keys = {"reward_std", "mean_margin", "margin_pairs"}
    for category, measured in profile["categories"].items():
        for name, competence in measured["reward_models"].items():
            old = without["categories"][category]["reward_models"][name]
            assert new_keys <= set(competence) and old["reward_std"] is None and old["margin_pairs"] == 0
            assert {k: v for k, v in competence.items() if k not in new_keys} == {k: v for k, v in old.items() if k not in new_keys}
    assert {k: v for k, v in profile.items() if k not in ("categories", "seconds")} == \
           {k: v for k, v in without.items() if k not in ("categories", "seconds")}


def test_the_pairs_per_prompt_and_the_version_are_part_of_the_key(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["profile"] = {}
    identity = build.profile_identity(build_run_config(data))
    assert identity["version"] == build.PROFILE_VERSION == 2 and identity["pairs_per_prompt"] == 2
    data["train"] = {**data["train"], "pairs_per_prompt": 3}  # other pairs, other margins: another profile
    assert build.profile_path(build_run_config(data)) != build.profile_path(build_run_config({**data, "train": {
        **data["train"], "pairs_per_prompt": 2}}))
