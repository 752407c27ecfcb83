"""A whole run with out-of-distribution tasks and majority-vote evaluation, and model-spec resolution."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from harness.loop.run_config import build_run_config
from harness.models.specs import resolve_model_spec
from harness.run.execute import execute_run

from conftest import TASK_DATA, tiny_run_config


def test_run_with_ood_tasks_and_majority_vote(tiny_models, data_dir, tmp_path):
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["ood_tasks"] = [{"name": "commonsenseqa", "path": str(data_dir / TASK_DATA["commonsenseqa"]), "split_sizes": [0, 0, 3]},
                         {"name": "math", "path": str(data_dir / TASK_DATA["math"]), "split_sizes": [0, 0, 2]}]
    data["eval"] = {"decoding": "majority", "num_samples": 3, "max_new_tokens": 6, "batch_size": 2, "dev_every_iteration": False}
    data["train"]["max_steps_per_iteration"] = 1
    metrics = execute_run(build_run_config(data), progress=False)
    assert set(metrics["ood"]) == {"commonsenseqa", "math"}
    assert metrics["ood"]["commonsenseqa"]["num_examples"] == 3 and metrics["ood"]["math"]["num_examples"] == 2
    assert metrics["test"]["decoding"] == "majority"
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())  # the single samples' accuracy beside the vote's
    assert written["test"]["sample_accuracy"] == metrics["test"]["sample_accuracy"]
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert metrics["test"]["sample_accuracy"] == pytest.approx(sum(r["sample_accuracy"] for r in rows) / len(rows))
    assert all(0.0 <= written["ood"][name]["sample_accuracy"] <= 1.0 for name in ("commonsenseqa", "math"))
    rows = [json.loads(line) for line in (tmp_path / "run" / "predictions_math.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and {"id", "gold", "prediction", "correct", "sample_accuracy"} <= set(rows[0])
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["config"]["eval"]["decoding"] == "majority" and "versions" in config["environment"]
    machine = config["environment"]["machine"]  # what float results depend on besides code and versions
    assert machine["cpu"] and machine["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert machine["torch_threads"] == torch.get_num_threads()


def test_model_specs(tmp_path, monkeypatch):
    assert resolve_model_spec("org/model").source == "org/model"
    location = resolve_model_spec(str(tmp_path / "m.gguf"))
    assert (location.source, location.gguf_file) == (str(tmp_path), "m.gguf")
    assert resolve_model_spec("folder::w.gguf").gguf_file == "w.gguf"
    package = tmp_path / "fake_model_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    (package / "weights.gguf").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path))
    location = resolve_model_spec("pkg:fake_model_pkg/weights.gguf")
    assert (location.source, location.gguf_file) == (str(package), "weights.gguf")
    assert "fake_model_pkg" not in sys.modules
    with pytest.raises(FileNotFoundError, match="no 'other.gguf' inside package"):
        resolve_model_spec("pkg:fake_model_pkg/other.gguf")


def test_training_pairs_keep_the_eos_their_samples_stopped_at(tiny_models, data_dir, tmp_path, monkeypatch):
    """A response that ended is trained with its end-of-sequence token, so the policy learns to stop."""
    from harness.loop.train_step import PreferenceTrainer
    from harness.models.policy import Policy, Sample

    generate, step, seen = Policy.generate, PreferenceTrainer.step, []

    def stopping(self, *args, **kwargs):  # every sample stopped at EOS
        return [[Sample(s.token_ids, s.text, self.tokenizer.eos_token_id) for s in group]
                for group in generate(self, *args, **kwargs)]

    monkeypatch.setattr(Policy, "generate", stopping)
    monkeypatch.setattr(PreferenceTrainer, "step", lambda self, items: seen.extend(items) or step(self, items))
    data = tiny_run_config(tiny_models, data_dir, tmp_path)
    data["train"]["max_steps_per_iteration"] = 1
    execute_run(build_run_config(data), progress=False)
    assert seen, "no pairs were trained"
    from transformers import AutoTokenizer
    eos = AutoTokenizer.from_pretrained(tiny_models["policy"]).eos_token_id
    assert all(item.chosen[-1] == eos and item.rejected[-1] == eos for item in seen)
