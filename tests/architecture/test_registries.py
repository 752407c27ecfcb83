"""Every registry of the harness (``harness.commands.catalog``) against the one extension contract: an entry loads,
subclasses the registry's base, describes itself in one line, takes its settings as a dataclass ``Config`` that is
checked strictly (unknown keys suggest the closest one), and is built by ``registry.build(name, config, context)``
(``Entry.from_config(config, context)``) from its settings and the registry's context. A new entry is covered here
without a new test; ``BUILDS`` holds, per registry, the smallest settings and context an entry is built from."""

from __future__ import annotations

import dataclasses
import functools
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import pytest
import yaml

from harness.commands.catalog import REGISTRIES
from harness.config.errors import ConfigError, UnknownNameError
from harness.config.schema import LoraConfig, PolicyConfig, RunConfig, TrainConfig
from harness.loop.losses import LOSSES, LossContext
from harness.loop.registry import LOOPS, loop_name
from harness.loop.trackers.base import TrackerContext
from harness.loop.training_loop import LoopContext
from harness.models.policy import Policy
from harness.models.specs import ModelSourceContext
from harness.report.write import ReportContext
from harness.rewards.base import BuildContext
from harness.rewards.judges.base import JudgeContext
from harness.rewards.registry import RM_KINDS
from harness.selection.bandits.base import BanditContext
from harness.selection.combiners import CombinerContext
from harness.selection.method import MethodContext
from harness.selection.registry import build_method
from harness.sweep.executors.base import ExecutorContext
from harness.sweep.run_sweep import SetupContext
from harness.tasks.base import Example, Splits, TaskContext

ENTRIES = [(title, name) for title, registry in REGISTRIES.items() for name in registry.names()]
# the modules of pyproject's optional extras (cluster, trackers, lmeval): an entry needing one is skipped without it
OPTIONAL_MODULES = {"ray", "submitit", "tensorboard", "wandb", "mlflow", "lm_eval"}


@pytest.mark.parametrize("title, name", ENTRIES, ids=[f"{t.split()[0]}:{n}" for t, n in ENTRIES])
def test_entry_meets_the_extension_contract(title, name):
    registry = REGISTRIES[title]
    entry = registry.get(name)
    assert isinstance(entry.description, str) and entry.description.strip(), f"{name}: no description"
    config_class = registry.config_class(name)
    assert dataclasses.is_dataclass(config_class)
    fields = [f for f in dataclasses.fields(config_class) if f.init and not f.metadata.get("rest")]
    required = [f.name for f in fields if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if required:
        with pytest.raises(ConfigError, match=rf"where\.{required[0]}\b.*: required, but missing"):
            registry.parse(name, {}, prefix="where")
    else:
        assert registry.parse(name, {}, prefix="where") == config_class()
    if fields and not any(f.metadata.get("rest") for f in dataclasses.fields(config_class)):
        typo = fields[0].name + "x"
        with pytest.raises(ConfigError, match=rf"unknown key 'where\.{typo}'\. Did you mean '{fields[0].name}'"):
            registry.parse(name, {typo: None}, prefix="where")


@pytest.mark.parametrize("title", list(REGISTRIES))
def test_unknown_names_are_refused_with_the_choices(title):
    registry = REGISTRIES[title]
    first = registry.names()[0]
    with pytest.raises(UnknownNameError, match=rf"Did you mean '{first}'.*Accepted values: "):
        registry.check(first[:-1] + "~")


# ----- construction: each entry built from the smallest settings and context of its registry -------------------
@dataclass
class Fixtures:
    """What the builders below may use: a scratch folder, the tiny models and a tiny policy."""

    tmp_path: Path
    models: dict[str, str]
    policy: Callable[[], Any]   # built on first use (only the loops need it)


Build = Callable[[str, Fixtures], tuple[Any, Any]]  # entry name, fixtures -> (settings, context)


def _reward_model(name: str, f: Fixtures) -> tuple[Any, Any]:
    model = f.models["rm_a"]
    settings = {"loglik": {"model": model}, "classifier": {"model": model},
                "implicit": {"model": model, "reference": f.models["rm_b"]},
                "noisy": {"base": "correctness", "sigma": 0.1},
                "roscoe": {"metric": "perplexity", "lm_model": model}}
    context = BuildContext(lambda text, example: 0.0, seed=0)
    context.pool["correctness"] = RM_KINDS.build("correctness", context=context.for_rm("correctness"))
    return settings.get(name, {}), context.for_rm(f"{name}_rm")


def _judge(name: str, f: Fixtures) -> tuple[Any, Any]:
    if name == "alpaca_eval":  # alpaca_eval's offline test decoder, so that no API key is needed
        template = resources.files("alpaca_eval").joinpath("evaluators_configs", "alpaca_eval_clf_gpt4_turbo",
                                                           "alpaca_eval_clf.txt")
        path = f.tmp_path / "offline_annotator" / "configs.yaml"
        path.parent.mkdir()
        path.write_text(yaml.safe_dump({"offline_annotator": {
            "prompt_template": str(template), "fn_completions": "test_completions",
            "completions_kwargs": {"model_name": "test", "value": "M"}, "fn_completion_parser": "regex_parser",
            "completion_parser_kwargs": {"outputs_to_match": {1: "^m$", 2: "^M$"}}}}))
        return {"annotator": str(path)}, JudgeContext()
    settings = {"lm": {"model": f.models["rm_a"]},
                "reward_model": {"reward_model": {"name": "judge", "kind": "loglik", "model": f.models["rm_a"]}}}
    return settings.get(name, {}), JudgeContext()


def _loop(name: str, f: Fixtures) -> tuple[Any, Any]:
    example = Example("1", "What is 3 + 4?", "7", solution="3 + 4 = 7.\nFinal answer: 7")
    task = REGISTRIES["tasks"].build("gsm8k", context=TaskContext())
    method = build_method("random_rm", {}, MethodContext(("rm_a",)))
    return None, LoopContext(RunConfig(), f.policy(), task, Splits([example], [example], [example]), {}, method)


# one per registry title (``harness.commands.catalog.REGISTRIES``)
BUILDS: dict[str, Build] = {
    "methods": lambda name, f: (None, MethodContext(("rm_a", "rm_b"), seed=0, best_rm="rm_a")),
    "bandits (laser's bandit)": lambda name, f: (None, BanditContext(num_arms=2, dim=3, seed=0)),
    "reward combiners": lambda name, f: (None, CombinerContext()),
    "tasks": lambda name, f: (None, TaskContext()),
    "reward-model kinds": _reward_model,
    "judges (compare)": _judge,
    "losses (train.loss)": lambda name, f: (None, LossContext()),
    "loops (by mode and the method's training data)": _loop,
    "trackers (log:)": lambda name, f: (None, TrackerContext(f.tmp_path, "task/method/seed0")),
    "executors (sweep --executor)": lambda name, f: (None, ExecutorContext()),
    "model sources (SOURCE:NAME model specs)": lambda name, f: (None, ModelSourceContext()),
    "setup hooks (sweep setup:)": lambda name, f: (None, SetupContext()),
    "report sections (python -m harness report)": lambda name, f: (None, ReportContext(pd.DataFrame(), [f.tmp_path], f.tmp_path)),
}
BUILT = [(title, name) for title, name in ENTRIES if title in BUILDS]


def test_every_registry_has_a_builder():
    assert set(REGISTRIES) == set(BUILDS)


@pytest.fixture(scope="module")
def tiny_policy(tiny_models):
    @functools.cache
    def policy() -> Policy:
        return Policy(PolicyConfig(model=tiny_models["policy"], lora=LoraConfig(r=4, alpha=8, dropout=0.0)))

    return policy


@pytest.mark.parametrize("title, name", BUILT, ids=[f"{t.split()[0]}:{n}" for t, n in BUILT])
def test_entry_is_built_from_its_settings_and_context(title, name, tmp_path, tiny_models, tiny_policy):
    registry = REGISTRIES[title]
    try:
        config, context = BUILDS[title](name, Fixtures(tmp_path, tiny_models, tiny_policy))
        entry = registry.build(name, config, context, prefix="where")
    except ModuleNotFoundError as error:
        if error.name not in OPTIONAL_MODULES:
            raise
        pytest.skip(f"{registry.kind} {name!r} needs the optional package {error.name!r}, which is not installed")
    assert isinstance(entry, registry.get(name))
    with pytest.raises(TypeError, match=f"expected a {type(context).__name__} context"):
        registry.build(name, config, object())


def test_train_loss_accepts_exactly_the_registered_losses():
    accepted = typing.get_args(typing.get_type_hints(TrainConfig)["loss"])
    assert sorted(accepted) == LOSSES.names()


def test_a_runs_loop_is_named_by_its_mode_and_what_its_method_trains_on():
    assert loop_name("train", "preferences") == "preference"
    assert loop_name("train", "demonstrations") == "supervised"
    assert loop_name("best_of_n", "preferences") == "best_of_n"
    assert set(LOOPS.names()) == {"preference", "supervised", "best_of_n"}
