"""The synthetic world: deterministic builds, the RM competence it reports, and a quickstart smoke sweep."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from harness.world.build import ModelRecipe, WorldConfig, ensure_world, task_problems, train_world_models
from harness.world.families import FAMILIES, generate

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _small_config(seed: int = 0) -> WorldConfig:
    recipe = {"policy": ModelRecipe({"count": 0.4, "facts": 0.4}, steps=30),
              "rm_a": ModelRecipe({"count": 1.0}, steps=30)}
    return WorldConfig(seed=seed, hidden_size=16, demos_per_family=200, task_examples_per_family=50,
                       ranking_prompts=20, models=recipe)


def test_problem_generation_is_deterministic_and_bugs_are_wrong():
    for family in FAMILIES:
        a, b = generate(family, 50, seed=3), generate(family, 50, seed=3)
        assert a == b and a != generate(family, 50, seed=4)
        assert len({p.prompt for p in a}) == 50
        assert all(p.correct.endswith(f"Final answer: {p.answer}") for p in a)
        assert all(p.buggy_answer != p.answer for p in a)


def test_task_problems_never_repeat_training_prompts():
    config = WorldConfig()
    from harness.world.build import demo_problems

    for family in FAMILIES:
        seen = {p.prompt for p in demo_problems(config, family)}
        assert not seen & {p.prompt for p in task_problems(config, family)}


@pytest.mark.slow
def test_world_build_is_deterministic_for_its_config(tmp_path, monkeypatch):
    folders = []
    for name in ("one", "two"):
        monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / name))
        folders.append(ensure_world(_small_config(), verbose=False))
    for model in ("policy", "rm_a"):
        first, second = (load_file(str(f / model / "model.safetensors")) for f in folders)
        assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)
    reports = [json.loads((f / "report.json").read_text()) for f in folders]
    assert reports[0]["ranking_accuracy"] == reports[1]["ranking_accuracy"]
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "three"))
    other = ensure_world(_small_config(seed=1), verbose=False)
    assert not torch.equal(load_file(str(other / "rm_a" / "model.safetensors"))["lm_head.weight"],
                           load_file(str(folders[0] / "rm_a" / "model.safetensors"))["lm_head.weight"])


@pytest.mark.slow
def test_a_world_reuses_the_models_an_earlier_build_trained_and_they_equal_its_own(tmp_path, monkeypatch, capsys):
    from dataclasses import replace

    first = _small_config()
    second = replace(first, models={**first.models, "policy": ModelRecipe({"count": 0.9, "facts": 0.9}, steps=30)})
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "shared"))
    folders = [ensure_world(first)]
    train_world_models([first, second])   # as a sweep's setup does: only what no build trained yet
    folders.append(ensure_world(second))
    printed = capsys.readouterr().out
    assert "training the 1 models of 1 synthetic world(s) in 1 process(es)" in printed
    assert "2 of its models already trained (policy, rm_a)" in printed and "training 1 models" not in printed
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "alone"))
    alone = ensure_world(second, verbose=False)   # the same world built from nothing
    for model in ("policy", "rm_a"):
        shared, own = (load_file(str(f / model / "model.safetensors")) for f in (folders[1], alone))
        assert shared.keys() == own.keys() and all(torch.equal(shared[k], own[k]) for k in shared)
    reports = [json.loads((f / "report.json").read_text()) for f in (folders[1], alone)]
    assert reports[0]["ranking_accuracy"] == reports[1]["ranking_accuracy"]
    assert reports[0]["policy_greedy_accuracy"] == reports[1]["policy_greedy_accuracy"]
    assert not torch.equal(*(load_file(str(f / "policy" / "model.safetensors"))["lm_head.weight"] for f in folders))


def test_reported_rm_competence_has_the_intended_ordering(default_world):
    accuracy = json.loads((default_world / "report.json").read_text())["ranking_accuracy"]
    for family in FAMILIES:
        expert = f"rm_{family}"
        assert accuracy[expert][family] > 0.95                                     # an expert on its family
        assert all(accuracy[f"rm_{other}"][family] < 0.1 for other in FAMILIES if other != family)  # backwards elsewhere
        assert 0.15 < accuracy["rm_generalist"][family] < accuracy[expert][family]  # noisy, never fully backwards
    best = {family: max(accuracy, key=lambda rm: accuracy[rm][family]) for family in FAMILIES}
    assert best == {family: f"rm_{family}" for family in FAMILIES}


def test_world_rm_scores_are_reproducible(default_world):
    from harness.config.parse import from_dict
    from harness.config.schema import RewardModelConfig
    from harness.rewards.pool import build_reward_models
    from harness.world.tasks import SynthFacts

    task = SynthFacts()
    problems = task_problems(WorldConfig(), "facts")[:8]
    config = [from_dict(RewardModelConfig, {"name": "rm", "kind": "loglik", "model": "world:rm_facts"})]
    scores = [build_reward_models(config, task.is_correct, 0)["rm"].score([p.prompt for p in problems], [p.correct for p in problems])
              for _ in range(2)]
    np.testing.assert_array_equal(scores[0], scores[1])


def test_quickstart_smoke_sweep_records_regret_and_writes_the_report(default_world, tmp_path, capsys):
    from harness.cli import main

    overrides = ["seeds=[0]", "tasks=[{name: synth_facts, split_sizes: [64, 10, 40]}]",
                 "methods=[{name: base}, {name: laser}, {name: single_rm, label: rm-facts, args: {rm: rm_facts}}]",
                 "base.train.iterations=1", "base.train.max_steps_per_iteration=2",
                 "base.profile={max_prompts: 16, num_samples: 4, resamples: 50}"]
    assert main(["sweep", str(EXPERIMENTS / "quickstart.yaml"), *overrides, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    # the profile is measured once, by the sweep, before its runs (or already cached by another test)
    assert printed.count("profile synth_facts: RM competence on the policy's own samples measured in") <= 1
    root = tmp_path / "quickstart"
    laser = json.loads((root / "synth_facts/laser/seed0/metrics.json").read_text())
    assert laser["selection"]["scored_steps"] == laser["selection"]["steps"] == 2
    assert 0.0 <= laser["selection"]["selection_accuracy"] <= 1.0 and laser["selection"]["regret"] >= 0.0
    run = root / "synth_facts/rm-facts/seed0"
    expert, profile = (json.loads((run / name).read_text()) for name in ("metrics.json", "profile.json"))
    (category, best), = profile["best_rm"].items()
    auc = {name: rm["auc"] for name, rm in profile["categories"][category]["reward_models"].items()}
    assert expert["selection"]["selection_accuracy"] == (1.0 if best == "rm_facts" else 0.0)
    assert expert["selection"]["regret"] == pytest.approx(2 * (auc[best] - auc["rm_facts"]))
    table = (root / "report" / "table1.md").read_text()
    assert "Base" in table and "LASeR (Ours)" in table and "RM: rm_facts" not in table


@pytest.mark.slow
def test_a_damaged_cached_world_is_named_moved_aside_and_rebuilt(tmp_path, monkeypatch):
    from harness.world import build

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))
    config = _small_config()
    folder = ensure_world(config, verbose=False)
    weights = folder / "rm_a" / "model.safetensors"
    original = weights.read_bytes()
    weights.write_bytes(original[:100])  # a copy cut short
    build._VERIFIED.clear()
    assert "rm_a" in build.world_problem(folder, config)
    with pytest.warns(RuntimeWarning, match="is damaged .*rm_a.*moved aside"):
        assert ensure_world(config, verbose=False) == folder
    assert build.world_problem(folder, config) is None and weights.read_bytes() == original  # deterministic rebuild
    assert len(list(tmp_path.glob("world/*.corrupt-*"))) == 1
