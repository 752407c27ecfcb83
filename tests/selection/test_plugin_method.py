"""The "Add a baseline" example, taken verbatim from docs/extending.md: a method in the user's own file, named
in a sweep as ``module:Class``, validated like a built-in, run in a small sweep, and a row of the report's
tables and a line of every figure that lists methods."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from harness.cli import main
from harness.config.errors import ConfigError
from harness.selection.registry import METHODS

from conftest import tiny_run_config

EXTENDING = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


@pytest.fixture(autouse=True)
def restore_methods(monkeypatch):
    """The plug-in registers itself in METHODS on first use; later tests (e.g. the schema's) must not see it."""
    monkeypatch.setattr(METHODS, "_entries", dict(METHODS._entries))
    monkeypatch.setattr(METHODS, "_loaded", dict(METHODS._loaded))


def docs_example() -> tuple[str, dict]:
    """The Python file and the sweep's method entry of docs/extending.md's "Add a baseline" section."""
    section = EXTENDING.read_text().split("## Add a baseline", 1)[1].split("\n## ", 1)[0]
    python = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    entry = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    method = yaml.safe_load("\n".join(line for line in entry.splitlines() if not line.lstrip().startswith("#")))[0]
    return python, method


@pytest.mark.slow
def test_the_docs_plugin_method_runs_in_a_sweep_and_is_a_row_of_every_table(tmp_path, tiny_models, data_dir,
                                                                           monkeypatch):
    source, method = docs_example()
    assert source.startswith("# my_methods.py") and method["name"] == "my_methods:EpsilonGreedy"
    (tmp_path / "my_methods.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    base = tiny_run_config(tiny_models, data_dir, tmp_path)
    task = base.pop("task")
    for key in ("method", "seed", "out"):
        base.pop(key)
    base["train"].update(iterations=2, max_steps_per_iteration=2)
    sweep = {"name": "plugin", "base": base, "tasks": [task], "seeds": [0, 1],
             "methods": [{"name": "laser"}, {"name": "random_rm"}, method]}
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["sweep", "sweep.yaml", "--out", "results", "--workers", "2"]) == 0  # spawned workers import it too
    root = tmp_path / "results" / "plugin"
    for seed in (0, 1):
        steps = (root / "gsm8k" / "eps-greedy" / f"seed{seed}" / "selections.jsonl").read_text().splitlines()
        assert len(steps) == 4
    report = root / "report"
    table1 = (report / "table1.md").read_text()
    assert re.search(r"^\| eps-greedy \|", table1, re.M), table1
    assert "eps-greedy" in (report / "wilcoxon.md").read_text()
    assert "eps-greedy" in (report / "mcnemar.md").read_text()
    figures = {path.stem for path in report.glob("fig_*.png")}
    assert {"fig_utilisation", "fig_mab_reward", "fig_accuracy_vs_time"} <= figures
    for figure in figures - {"fig_rm_agreement"}:  # every figure that lists methods (RM agreement lists RMs)
        rows = set(pd.read_csv(report / f"{figure}.csv")["row"])
        assert "eps-greedy" in rows and "LASeR (Ours)" in rows, (figure, rows)
    mab = pd.read_csv(report / "fig_mab_reward.csv")
    recorded = [json.loads(line)["mab_reward"] for seed in (0, 1)
                for line in (root / "gsm8k" / "eps-greedy" / f"seed{seed}" / "selections.jsonl").read_text().splitlines()]
    assert mab[mab["row"] == "eps-greedy"]["times_chosen"].count() > 0 and any(r is not None for r in recorded)


def test_a_plugin_method_is_validated_like_a_built_in(tmp_path, monkeypatch):
    source, _ = docs_example()
    (tmp_path / "my_methods.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    from harness.selection.method import MethodContext
    from harness.selection.registry import build_method

    method = build_method("my_methods:EpsilonGreedy", {"epsilon": 0.5}, MethodContext(["rm_a", "rm_b"]))
    assert method.config.epsilon == 0.5 and "my_methods:EpsilonGreedy" in METHODS
    with pytest.raises(ConfigError, match="unknown key 'method.args.epsilno'. Did you mean 'epsilon'"):
        build_method("my_methods:EpsilonGreedy", {"epsilno": 0.5}, MethodContext(["rm_a"]))
    with pytest.raises(ConfigError, match="cannot import module 'not_my_methods'"):
        METHODS.check("not_my_methods:EpsilonGreedy")
    with pytest.raises(ConfigError, match="module 'my_methods' has no 'Greedy'"):
        METHODS.check("my_methods:Greedy")
