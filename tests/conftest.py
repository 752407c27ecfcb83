"""Shared fixtures: tiny Llama models built from a config (never from a hub) and the real-data folder."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from harness.models.tiny import save_tiny_llama

DATA_ENV = "HARNESS_TEST_DATA"
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


# fixtures that build (or wait for) the quickstart's synthetic world: a test that asks for one is ``slow``
WORLD_FIXTURES = {"default_world", "world_cache"}


def pytest_collection_modifyitems(session, config, items):
    """Tests that build the world are marked ``slow`` (with the sweeps and other long tests marked in their files,
    ``python -m pytest -m "not slow and not gpu"`` is a developer's loop of a minute or two; the default runs
    everything but ``gpu``). Tests marked ``world_builder`` run first: the one that kills a sweep during the world
    build then builds the session's world, which every later world test reuses (else it would build a private
    world a second time)."""
    for item in items:
        if WORLD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    first = [item for item in items if item.get_closest_marker("world_builder")]
    items[:] = first + [item for item in items if not item.get_closest_marker("world_builder")]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, str]:
    """A tiny policy and two tiny reward models with different random weights."""
    root = tmp_path_factory.mktemp("tiny_models")
    return {name: str(save_tiny_llama(root / name, seed=seed)) for name, seed in (("policy", 0), ("rm_a", 1), ("rm_b", 2))}


@pytest.fixture(scope="session")
def world_cache(tmp_path_factory) -> Path:
    """A $HARNESS_CACHE for the tests that need the quickstart's world: the first of them builds it there
    (a kill-during-build test, or ``default_world``), the others reuse it."""
    return tmp_path_factory.mktemp("world_cache")


@pytest.fixture(scope="session")
def default_world(world_cache):
    """The quickstart's world, built (or found) in the session's world cache."""
    from harness.world.build import ensure_world

    patch = pytest.MonkeyPatch()
    patch.setenv("HARNESS_CACHE", str(world_cache))
    folder = ensure_world(verbose=False)
    yield folder
    patch.undo()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real-data folder ($HARNESS_TEST_DATA, default ../shared/data); tests skip without it."""
    path = Path(os.environ.get(DATA_ENV, DEFAULT_DATA)).resolve()
    if not path.is_dir():
        pytest.skip(f"real-data folder {path} not found (set {DATA_ENV} to a copy of shared/data)")
    return path


TASK_DATA = {
    "strategyqa": "strategyqa",
    "gsm8k": "gsm8k/test.jsonl",
    "mmlu": "mmlu/test.jsonl",
    "commonsenseqa": "commonsenseqa",
    "math": "math",
}
# tasks without answers to extract: graded (LongBench) or open-ended (WildChat)
OPEN_TASK_DATA = {
    "alpaca_eval": "alpaca_eval/eval_set.jsonl",
    "longbench": "longbench/minilongbench_en.jsonl",
    "wildchat": "wildchat/prompts.jsonl",
}


def tiny_run_config(tiny_models: dict[str, str], data_dir: Path, tmp_path: Path, **overrides) -> dict:
    """A complete run config (as a dict) for a tiny model on real GSM8K rows."""
    config = {
        "method": {"name": "laser", "args": {}},
        "task": {"name": "gsm8k", "path": str(data_dir / TASK_DATA["gsm8k"]), "split_sizes": [8, 2, 4]},
        "seed": 0,
        "policy": {"model": tiny_models["policy"], "lora": {"r": 4, "alpha": 8, "dropout": 0.0}},
        "reward_models": [
            {"name": "rm_a", "kind": "loglik", "model": tiny_models["rm_a"]},
            {"name": "rm_b", "kind": "loglik", "model": tiny_models["rm_b"]},
        ],
        "best_rm": "rm_a",
        "train": {"iterations": 1, "batch_size": 4, "num_samples": 3, "pairs_per_prompt": 2, "max_new_tokens": 8,
                  "micro_batch_size": 4, "learning_rate": 1e-3},
        "eval": {"max_new_tokens": 8, "batch_size": 4},
        "out": str(tmp_path / "run"),
    }
    for key, value in overrides.items():
        config[key] = value
    return config


def stored_config(config: dict) -> dict:
    """A run's ``config.json`` as a run writes it when it starts, for a store written by hand: the (partial) config
    and the reporting record of its method (``harness.selection.reporting``), built with a pool of the RMs the
    config names (its ``best_rm`` and ``method.args.rm``) and rm_a, rm_b, and its ``train.start``."""
    from harness.config.schema import MethodConfig, RewardModelConfig, RunConfig, TrainConfig
    from harness.selection.reporting import reporting_record

    method, best_rm = config["method"], config.get("best_rm", "")
    pool = dict.fromkeys(name for name in (best_rm, method["args"].get("rm"), "rm_a", "rm_b") if name)
    run = RunConfig(method=MethodConfig(method["name"], dict(method["args"])), best_rm=best_rm,
                    reward_models=[RewardModelConfig(name, "loglik") for name in pool],
                    train=TrainConfig(start=config.get("train", {}).get("start", "base")))
    return {"config": config, "reporting": reporting_record(run)}


def write_df_gamed_stand_in(path: Path) -> str:
    """A stand-in for alpaca_eval's hub file df_gamed.csv (instruction difficulty of its 805 prompts plus
    annotations of "gamed" models), so its length-controlled GLM v1 runs offline in tests."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    difficulty = rng.normal(size=805)
    frames = [pd.DataFrame({"index": range(805), "instruction_difficulty": difficulty, "model": name,
                            "preference": rng.uniform(1, 2, 805), "std_delta_len": rng.normal(size=805),
                            "not_gamed_baseline": False})
              for name in ("gamed_verbose", "gamed_concise")]
    pd.concat(frames, ignore_index=True).to_csv(path, index=False)  # row i < 805 holds instruction i
    return str(path)


def write_finished_run(root, label: str, method: dict, seed: int, accuracies: dict[str, float], profile: dict):
    """A finished run of task ``mix`` written by hand (config, per-category test accuracies, profile); its folder."""
    folder = root / "mix" / label / f"seed{seed}"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(stored_config({
        "method": method, "best_rm": "rm_a", "policy": {"model": "p"}, "train": {"loss": "dpo_nll"},
        "task": {"name": "mix"}, "seed": seed})))
    (folder / "metrics.json").write_text(json.dumps({"test": {"accuracy": sum(accuracies.values()) / len(accuracies),
                                                              "accuracies": accuracies}}))
    (folder / "profile.json").write_text(json.dumps(profile))
    return folder
