from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from harness.config.errors import ConfigError
from harness.loop.run_config import build_run_config, load_run_config

from conftest import tiny_run_config

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _build(data, *overrides):
    return build_run_config(data, list(overrides))


def test_overrides_beat_the_yaml_which_beats_defaults(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    config = _build(data, "train.iterations=3", "seed=7", "method.args={bandit: exp3}")
    assert (config.train.iterations, config.seed, config.method.args) == (3, 7, {"bandit": "exp3"})
    assert config.train.batch_size == 4          # from the YAML
    assert config.train.temperature == 0.8       # default (paper)
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_run_config(path, ["train.beta=0.2"]).train.beta == 0.2


@pytest.mark.parametrize("change, message", [
    ({"trian": {}}, r"unknown key 'trian'. Did you mean 'train'"),
    ({"train": {"iterashuns": 2}}, r"unknown key 'train.iterashuns'. Did you mean 'iterations'"),
    ({"train": {"iterations": "two"}}, r"train.iterations: expected an integer, got 'two'"),
    ({"train": {"loss": "dpo+nll"}}, r"train.loss: expected one of .*'dpo_nll'"),
    ({"method": {"name": "lasr"}}, r"method.name: unknown method 'lasr'. Did you mean 'laser'"),
    ({"best_rm": "rm_q"}, r"best_rm: unknown reward model 'rm_q'.*rm_a, rm_b"),
    ({"train": {"num_samples": 1}}, r"train.num_samples"),
])
def test_config_errors_name_the_key_and_the_accepted_values(tiny_models, data_dir, tmp_path, change, message):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    for key, value in change.items():
        data[key] = {**data[key], **value} if isinstance(value, dict) and isinstance(data.get(key), dict) else value
    with pytest.raises(ConfigError, match=message):
        _build(data)


def test_reward_model_errors(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["reward_models"].append({"name": "n", "kind": "noisey", "base": "rm_a"})
    with pytest.raises(ConfigError, match=r"reward_models\[2\].kind: unknown reward-model kind 'noisey'. Did you mean 'noisy'"):
        _build(data)
    data["reward_models"][2] = {"name": "n", "kind": "noisy", "base": "rm_x", "sigma": 1.0}
    with pytest.raises(ConfigError, match=r"reward_models\[2\].base: unknown reward model 'rm_x'"):
        _build(data)


def test_task_errors_fail_before_compute(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["task"] = {"name": "gsm8k", "path": str(tmp_path / "missing.jsonl")}
    with pytest.raises(ConfigError, match="missing.jsonl: data file or folder not found"):
        _build(data)
    data["task"] = {"name": "gsm8k", "path": str(data_dir / "gsm8k" / "test.jsonl"), "split_sizes": [0, 0, 0]}
    with pytest.raises(ConfigError, match="the train split is empty"):
        _build(data)
    data["task"] = {"name": "gsm8", "path": str(data_dir / "gsm8k")}
    with pytest.raises(ConfigError, match="task.name: unknown task 'gsm8'. Did you mean 'gsm8k'"):
        _build(data)


def test_cli_reports_config_errors_without_a_traceback(tmp_path, capsys):
    from harness.cli import main

    path = tmp_path / "bad.yaml"
    path.write_text("method: {name: lazer}\npolicy: {model: x}\n")
    assert main(["run", str(path)]) == 2
    assert "Did you mean 'laser'" in capsys.readouterr().err


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("runs/*.yaml")), ids=lambda p: p.name)
def test_every_shipped_run_config_parses(path):
    from harness.config.parse import from_dict, read_yaml
    from harness.config.schema import RunConfig
    from harness.loop.run_config import validate_run_config

    config = from_dict(RunConfig, read_yaml(path))
    validate_run_config(config, source=str(path), check_data=False)  # hub data is not reachable offline


def test_overrides_index_lists(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["reward_models"].append({"name": "noisy", "kind": "noisy", "base": "rm_a", "sigma": 0.0})
    assert _build(data, "reward_models.2.sigma=2.5").reward_models[2].settings["sigma"] == 2.5
    with pytest.raises(ConfigError, match="not an index of a list of 3"):
        _build(data, "reward_models.7.sigma=1")
