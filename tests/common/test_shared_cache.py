"""The content-addressed cache shared by a sweep's runs: exact reuse, and results equal to no sharing."""

from __future__ import annotations

import json
import multiprocessing

import pytest
import yaml

from harness.common.content_cache import ContentCache, content_key
from harness.sweep.executors.registry import build_executor
from harness.sweep.run_sweep import run_sweep

from conftest import tiny_run_config


def _put_from_another_process(path: str) -> None:
    ContentCache(path).put_many({content_key("x", i): [i, str(i)] for i in range(50)})


@pytest.mark.slow
def test_cache_round_trips_values_across_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    process = multiprocessing.get_context("spawn").Process(target=_put_from_another_process, args=(path,))
    process.start()
    process.join(60)
    cache = ContentCache(path)
    found = cache.get_many([content_key("x", i) for i in range(60)])
    assert len(found) == 50 and found[content_key("x", 7)] == [7, "7"]
    assert (cache.hits, cache.misses) == (50, 10)
    cache.put(content_key("x", 7), "other")  # entries are immutable: the first value stays
    assert cache.get(content_key("x", 7)) == [7, "7"]


def _sweep(tmp_path, tiny_models, data_dir, shared: bool):
    base = tiny_run_config(tiny_models, data_dir, tmp_path)
    task = base.pop("task")
    for key in ("method", "seed", "out"):
        base.pop(key)
    base["train"].update(iterations=2, max_steps_per_iteration=2)
    sweep = {"name": "cached" if shared else "plain", "shared_cache": shared, "base": base, "tasks": [task],
             "seeds": [0, 1], "methods": [{"name": "base"}, {"name": "laser"}, {"name": "single_rm"},
                                          {"name": "offline_ensemble"}]}
    path = tmp_path / f"{sweep['name']}.yaml"
    path.write_text(yaml.safe_dump(sweep))
    assert run_sweep(str(path), [], str(tmp_path / "out"), build_executor()).exit_code == 0
    return tmp_path / "out" / sweep["name"]


def _outcome(folder):
    metrics = json.loads((folder / "metrics.json").read_text())
    steps = [json.loads(line) for line in (folder / "selections.jsonl").read_text().splitlines()] if (folder / "selections.jsonl").exists() else []
    return metrics["test"]["accuracy"], [(s["reward_model"], s["num_pairs"], round(s["loss"] or 0.0, 4)) for s in steps]


@pytest.mark.slow
def test_sharing_reuses_work_and_changes_no_result(tmp_path, tiny_models, data_dir):
    shared = _sweep(tmp_path, tiny_models, data_dir, shared=True)
    plain = _sweep(tmp_path, tiny_models, data_dir, shared=False)
    assert (shared / ".cache" / "content.sqlite").exists() and not (plain / ".cache").exists()
    hits = {}
    for folder in sorted(shared.glob("*/*/seed*")):
        relative = folder.relative_to(shared)
        assert _outcome(folder) == _outcome(plain / relative), relative
        hits[str(relative)] = json.loads((folder / "metrics.json").read_text())["shared_cache"]["hits"]
    # the first training run of each seed computes step 0; the later ones reuse its samples and scores
    assert hits["gsm8k/laser/seed0"] == 0 or hits["gsm8k/single_rm/seed0"] > 0
    assert hits["gsm8k/single_rm/seed0"] > 0 and hits["gsm8k/offline_ensemble/seed1"] > 0
    assert "shared_cache" not in json.loads((plain / "gsm8k/laser/seed0/metrics.json").read_text())
