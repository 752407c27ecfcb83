"""Worlds as a sweep axis: a run's ``world`` settings pick the synthetic world its ``world:NAME`` models and ``synth_*``
tasks come from; each distinct world is built once and cached; cache keys differ between worlds and stay as they were
for the default world; ``sweep --dry-run`` lists the runs and their worlds without building anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.config.active_world import active_world_settings, using_world
from harness.config.errors import ConfigError
from harness.config.schema import WorldSettings
from harness.loop.run_config import _examples, build_run_config
from harness.models.loading import model_identity
from harness.profile.build import profile_identity
from harness.report.write import write_report
from harness.store.layout import CONFIG, DONE
from harness.store.run_folder import run_state
from harness.sweep.executors.local import LocalConfig, LocalExecutor
from harness.sweep.run_sweep import run_sweep
from harness.world import problems
from harness.world.build import WorldModel, uses_world, worlds_used
from harness.world.problems import ModelRecipe, WorldConfig, task_problems, world_config, world_dir

ROOT = Path(__file__).resolve().parents[2]


def _small_base() -> WorldConfig:
    """A world of the default one's shape (a policy, an expert per family, a generalist), small enough to build in
    seconds, standing in for the default world as the base that the knobs change."""
    families = ("count", "facts", "choice")
    models = {"policy": ModelRecipe(dict.fromkeys(families, 0.4), steps=40),
              "rm_count": ModelRecipe({"count": 1.0, "facts": 0.0, "choice": 0.0}, steps=20),
              "rm_generalist": ModelRecipe({"count": 0.55, "facts": 0.65, "choice": 0.55}, steps=20)}
    return WorldConfig(hidden_size=16, demos_per_family=100, task_examples_per_family=40, ranking_prompts=10, models=models)


@pytest.fixture
def small_base(monkeypatch):
    """The small base world in place of the default one, for this test only (the examples a config check read in it
    are forgotten afterwards, as a process that never patched the base would never have read them)."""
    monkeypatch.setattr(problems, "base_world", _small_base)
    yield
    _examples.cache_clear()


def _config(**data):
    """A run config checked as a run's is, with the base method and a hub policy unless given (nothing is loaded)."""
    return build_run_config({"method": {"name": "base"}, "policy": {"model": "gpt2"}, **data}, [], check_data=False)


def test_every_knob_null_is_the_default_world_with_its_digest():
    assert world_config(WorldSettings()) == WorldConfig()
    assert world_config(WorldSettings()).digest() == WorldConfig().digest()
    # a knob set to the default world's own value names the same world
    assert world_config(WorldSettings(policy_correct_share=0.4, expert_sharpness=1.0, seed=0)).digest() == WorldConfig().digest()


def test_the_knobs_change_the_recipes_they_name_and_nothing_else():
    default = WorldConfig()
    world = world_config(WorldSettings(policy_correct_share=0.9, generalist_correct_share=0.7, expert_sharpness=0.8, seed=3))
    assert world.models["policy"].correct_share == {"count": 0.9, "facts": 0.9, "choice": 0.9}
    assert world.models["rm_generalist"].correct_share == {"count": 0.7, "facts": 0.7, "choice": 0.7}
    assert world.models["rm_facts"].correct_share == {"count": 0.2, "facts": 0.8, "choice": 0.2}
    assert world.seed == 3 and world.hidden_size == default.hidden_size
    assert {name: recipe.steps for name, recipe in world.models.items()} == {n: r.steps for n, r in default.models.items()}
    only_policy = world_config(WorldSettings(policy_correct_share=0.9))
    assert {n for n in default.models if only_policy.models[n] != default.models[n]} == {"policy"}


def test_world_settings_are_range_checked_at_load(tmp_path):
    with pytest.raises(ConfigError, match=r"world\.policy_correct_share.*1\.5"):
        _config(**{"world": {"policy_correct_share": 1.5}, "out": str(tmp_path / "r")})
    with pytest.raises(ConfigError, match=r"world\.sharpnes"):
        _config(**{"world": {"sharpnes": 0.5}, "out": str(tmp_path / "r")})


def test_the_active_world_is_the_blocks_and_the_default_outside():
    assert active_world_settings().is_default()
    with using_world(WorldSettings(seed=2)):
        assert active_world_settings().seed == 2 and world_config().seed == 2
        with using_world(None):
            assert active_world_settings().is_default()
        assert world_dir() == world_dir(world_config(WorldSettings(seed=2)))
    assert active_world_settings().is_default() and world_config() == WorldConfig()


def test_synth_tasks_draw_their_problems_from_the_active_world():
    from harness.world.tasks import SynthCount

    task = SynthCount()
    config = _config(task={"name": "synth_count"}).task
    default = [e.question for e in task.load(config)]
    with using_world(WorldSettings(seed=1)):
        other = [e.question for e in task.load(config)]
    assert default == [task.to_example(p).question for p in task_problems(WorldConfig(), "count")]
    assert default != other


def test_which_runs_use_a_world(tmp_path):
    synthetic = _config(task={"name": "synth_mix"})
    world_rm = _config(task={"name": "gsm8k"}, reward_models=[{"name": "a", "kind": "loglik", "model": "world:rm_count"}])
    neither = _config(task={"name": "gsm8k"})
    assert uses_world(synthetic) and uses_world(world_rm) and not uses_world(neither)
    shifted = _config(task={"name": "synth_mix"}, world={"policy_correct_share": 0.9})
    assert [w.digest() for w in worlds_used([neither, synthetic, shifted, synthetic])] == [
        WorldConfig().digest(), world_config(shifted.world).digest()]


@pytest.mark.slow
def test_models_and_cache_keys_follow_the_run_world_and_default_keys_are_unchanged(tmp_path, monkeypatch, small_base):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    config = build_run_config({"method": {"name": "base"}, "task": {"name": "synth_count"}, "policy": {"model": "world:policy"},
                               "reward_models": [{"name": "rm_count", "kind": "loglik", "model": "world:rm_count"}],
                               "profile": {"max_prompts": 4}}, [], check_data=False)
    shifted = build_run_config({"method": {"name": "base"}, "task": {"name": "synth_count"}, "policy": {"model": "world:policy"},
                                "reward_models": [{"name": "rm_count", "kind": "loglik", "model": "world:rm_count"}],
                                "profile": {"max_prompts": 4}, "world": {"policy_correct_share": 1.0}}, [], check_data=False)
    default_folder = WorldModel().locate("policy")
    with using_world(shifted.world):
        shifted_folder = WorldModel().locate("policy")
        shifted_identity = model_identity("world:policy", "auto", "auto")
    assert default_folder.parent != shifted_folder.parent
    assert default_folder.parent.name == _small_base().digest()
    assert "world" not in model_identity("world:policy", "auto", "auto") and "world" not in profile_identity(config)
    assert shifted_identity["world"]["policy_correct_share"] == 1.0
    assert profile_identity(shifted)["world"]["policy_correct_share"] == 1.0
    assert profile_identity(config) != profile_identity(shifted)
    built = json.loads((shifted_folder.parent / "report.json").read_text())["config"]
    assert built["models"]["policy"]["correct_share"] == {"count": 1.0, "facts": 1.0, "choice": 1.0}


@pytest.mark.slow
def test_a_sweep_over_worlds_builds_each_once_records_it_and_resumes(tmp_path, monkeypatch, small_base):
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    sweep = {"name": "worlds", "setup": {"world": {}},
             "base": {"policy": {"model": "world:policy", "lora": {"r": 4, "alpha": 8, "dropout": 0.0}, "max_prompt_tokens": 96},
                      "reward_models": [{"name": "rm_count", "kind": "loglik", "model": "world:rm_count"},
                                        {"name": "rm_generalist", "kind": "loglik", "model": "world:rm_generalist"}],
                      "best_rm": "rm_generalist", "profile": {"max_prompts": 4},
                      "train": {"iterations": 1, "batch_size": 4, "max_steps_per_iteration": 1, "num_samples": 3,
                                "max_new_tokens": 12, "micro_batch_size": 8},
                      "eval": {"max_new_tokens": 12, "batch_size": 20, "dev_every_iteration": False}},
             "tasks": [{"name": "synth_count", "split_sizes": [8, 2, 10]}],
             "methods": [{"name": "base", "overrides": {"train.start": "base"}}, {"name": "random_rm"}], "seeds": [0],
             "grid": {"world.policy_correct_share": [0.0, 1.0], "train.start": ["base", "sft"]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = run_sweep(str(path), [], str(tmp_path / "out"), LocalExecutor(LocalConfig(workers=1)))
    assert (result.done, result.failed) == (6, 0)
    worlds = sorted(p.name for p in (tmp_path / "cache" / "world").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert worlds == sorted(world_config(WorldSettings(policy_correct_share=s)).digest() for s in (0.0, 1.0))
    store = tmp_path / "out" / "worlds"
    responses = {}
    for share in (0.0, 1.0):
        folder = store / f"synth_count/base@world.policy_correct_share={share}/seed0"
        assert run_state(folder) == DONE
        assert json.loads((folder / CONFIG).read_text())["config"]["world"]["policy_correct_share"] == share
        rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
        responses[share] = [(row["id"], row["response"]) for row in rows]
    # the same test prompts, answered by two different starting policies (each world's own)
    assert [i for i, _ in responses[0.0]] == [i for i, _ in responses[1.0]] and responses[0.0] != responses[1.0]
    report = tmp_path / "report"
    write_report(store, report, with_paper=False)
    regimes = (report / "regimes.md").read_text()
    assert "| Method | 0.0 | 1.0 |" in regimes and "| Random RM Selection |" in regimes
    assert "Spearman's rho with the chosen RM's on-policy AUC" in regimes  # random_rm's steps, rated by each world's profile
    # from each world's SFT policy: rated against that policy's profile, shown as the method's second line
    sft_profile, = (json.loads(p.read_text()) for p in store.glob("synth_count/random_rm@*start=sft*share=1.0/seed0/profile.json"))
    base_profile, = (json.loads(p.read_text()) for p in store.glob("synth_count/random_rm@*start=base*share=1.0/seed0/profile.json"))
    assert sft_profile["start"]["from"] == "sft" and "start" not in base_profile
    assert regimes.count("| Random RM Selection [from SFT] |") == 4   # accuracy, selection, both signal tables
    regime_table = pd.read_csv(report / "fig_regimes_accuracy.csv")
    assert set(regime_table.loc[regime_table["row"] == "Random RM Selection", "variant"].fillna("")) == {"", "from SFT"}
    assert (report / "fig_regimes_accuracy.png").is_file() and (report / "fig_regimes_signal.png").is_file()
    stamps = {w: (tmp_path / "cache" / "world" / w / "report.json").stat().st_mtime_ns for w in worlds}
    again = run_sweep(str(path), [], str(tmp_path / "out"), LocalExecutor(LocalConfig(workers=1)))
    assert (again.done, again.failed) == (6, 0)
    assert stamps == {w: (tmp_path / "cache" / "world" / w / "report.json").stat().st_mtime_ns for w in worlds}


def test_dry_run_lists_runs_and_worlds_and_builds_nothing(tmp_path):
    cache = tmp_path / "cache"
    command = [sys.executable, "-m", "harness", "sweep", str(ROOT / "experiments" / "quickstart.yaml"), "--dry-run",
               "--out", str(tmp_path / "out"), "seeds=[0,1]", "grid={world.policy_correct_share: [0.1, 0.9]}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "HARNESS_CACHE": str(cache)})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("sweep quickstart: 52 runs (0 finished, 52 to run)")
    assert sum(" pending  world " in line for line in lines) == 52
    low, high = (world_config(WorldSettings(policy_correct_share=s)).digest() for s in (0.1, 0.9))
    assert "worlds: 2 (0 built on this machine, 2 to build)" in lines
    assert f"  {low}  policy_correct_share=0.1  26 runs  to build" in lines
    assert f"  {high}  policy_correct_share=0.9  26 runs  to build" in lines
    assert lines[-1] == "nothing was built or run (--dry-run)"
    assert not cache.exists() and not (tmp_path / "out").exists()
