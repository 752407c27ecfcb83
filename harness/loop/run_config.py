"""A run config checked as a whole before any model is loaded: names against every registry, method and
task arguments, the reward-model pool, and the data splits.

``load_run_config(path, overrides)`` reads YAML, applies ``key=value`` overrides (which beat the YAML,
which beats the defaults) and validates everything that can be checked without compute.
"""

from __future__ import annotations

import importlib.util
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from harness.common.content_cache import cache_home
from harness.common.files import unwritable_folder
from harness.config.active_world import using_world
from harness.config.errors import ConfigError, UnknownNameError, unknown_name_message
from harness.config.parse import config_problems, parse_overrides, parse_with_overrides, read_yaml
from harness.config.schema import RunConfig, TaskConfig, WorldSettings
from harness.loop.supervised import check_demonstrations
from harness.loop.trackers.registry import check_trackers
from harness.models.specs import model_spec_problem
from harness.rewards.registry import RM_KINDS
from harness.selection.method import Method, MethodContext
from harness.selection.registry import METHODS, build_method
from harness.tasks.registry import TASKS, get_task


def build_run_config(data: dict[str, Any], overrides: list[str] = (), source: str = "<config>",
                     check_data: bool = True) -> RunConfig:
    """A validated run config from a mapping and ``key=value`` overrides; errors name ``source``."""
    config = parse_with_overrides(RunConfig, data, parse_overrides(list(overrides)), source)
    validate_run_config(config, source=source, check_data=check_data)
    return config


def load_run_config(path: str | Path, overrides: list[str] = ()) -> RunConfig:
    """Read, override and validate a run config; raises ConfigError naming the key or file."""
    return build_run_config(read_yaml(path), overrides, source=str(path))


def validate_run_config(config: RunConfig, source: str = "<config>", check_data: bool = True) -> None:
    """Each part's own rules (``problems()`` of the config dataclasses), the names against the registries, then
    what each owner says of the run as a whole (``check``: the task, the method, each RM kind), then the data and
    files; the first problem is a ConfigError naming ``source`` and the key."""
    def fail(message: str) -> None:
        raise ConfigError(f"{source}: {message}")

    for problem in config_problems(config):
        fail(problem)
    names = [rm.name for rm in config.reward_models]
    parsed = []  # each RM's settings, parsed once for every check below
    for i, rm in enumerate(config.reward_models):
        key = f"reward_models[{i}]"
        if rm.kind not in RM_KINDS:
            fail(f"{key}.kind: {unknown_name_message('reward-model kind', rm.kind, RM_KINDS.names())}")
        if names.count(rm.name) > 1:
            fail(f"{key}.name: {rm.name!r} is used by more than one reward model")
        try:
            settings = RM_KINDS.parse(rm.kind, rm.settings, prefix=key, also_accepted=("name", "kind"))
        except ConfigError as error:
            fail(str(error))
        problem = RM_KINDS.get(rm.kind).check(rm.name, settings, names)
        if problem:
            fail(f"{key}.{problem}")
        parsed.append(settings)
    if config.best_rm and config.best_rm not in names:
        fail(f"best_rm: {unknown_name_message('reward model', config.best_rm, names)}")
    try:
        METHODS.check(config.method.name)
        method = build_method(config.method.name, config.method.args, MethodContext.of_run(config))
    except UnknownNameError as error:
        fail(f"method.name: {error}")
    except ConfigError as error:
        fail(str(error))
    for key, task in [("task", config.task)] + [(f"ood_tasks[{i}]", t) for i, t in enumerate(config.ood_tasks)]:
        if task.name not in TASKS:
            fail(f"{key}.name: {unknown_name_message('task', task.name, TASKS.names())}")
        try:
            get_task(task.name, task.options)
        except ConfigError as error:
            fail(f"{key}: {error}")
    try:
        check_trackers(config.log)
    except ConfigError as error:
        fail(str(error))
    if config.eval.lm_eval is not None and importlib.util.find_spec("lm_eval") is None:
        fail("eval.lm_eval: needs lm-evaluation-harness, which is not installed (the lmeval extra: "
             "pip install -e '.[lmeval]')")
    task_class = TASKS.get(config.task.name)
    problem = task_class.check(config)
    if problem:
        fail(problem)
    problem = method.check(config, task_class.kind)
    if problem:
        fail(f"method.name: {config.method.name!r} {problem}")
    problem = start_problem(config, method)
    if problem:
        fail(problem)
    for rm, settings in zip(config.reward_models, parsed):
        problem = RM_KINDS.get(rm.kind).check_task(settings, config.task.name, task_class.kind)
        if problem:
            fail(f"reward_models: {rm.name!r} ({rm.kind}) {problem}")
    if check_data:
        check_task_data(config, source)
        check_files(config, source, parsed)


def start_problem(config: RunConfig, method: Method) -> str | None:
    """What keeps the run from starting where ``train.start`` says (None: nothing), naming the key."""
    if config.train.start == "base":
        return None
    if method.declared.trains_on == "demonstrations":
        return (f"train.start: 'sft' starts from the sft method's result, which method {config.method.name!r} would "
                f"fine-tune on the demonstrations a second time; use train.start: base (that run is the SFT row)")
    if config.eval.lm_eval is not None:
        return ("train.start: 'sft' cannot be combined with eval.lm_eval yet (lm-eval loads policy.model and the run's "
                "adapter, without the SFT weights); remove eval.lm_eval or use train.start: base")
    return None


def check_files(config: RunConfig, source: str, rm_settings: list[Any] | None = None) -> None:
    """The models can be found (without loading them) and the run's folders can be written; ``rm_settings``: the
    reward models' parsed settings (parsed here when not given)."""
    if rm_settings is None:
        rm_settings = [RM_KINDS.parse(rm.kind, rm.settings, prefix=f"reward_models[{i}]", also_accepted=("name", "kind"))
                       for i, rm in enumerate(config.reward_models)]
    models = [("policy.model", config.policy.model)]
    for i, (rm, settings) in enumerate(zip(config.reward_models, rm_settings)):
        models += [(f"reward_models[{i}].{key}", spec) for key, spec in RM_KINDS.get(rm.kind).model_specs(settings).items()]
    for key, spec in models:
        problem = model_spec_problem(spec)
        if problem:
            raise ConfigError(f"{source}: {key}: {problem}")
    for key, folder in (("out", config.out), ("cache_dir", config.cache_dir), ("$HARNESS_CACHE", str(cache_home()))):
        problem = folder and unwritable_folder(folder)
        if problem:
            raise ConfigError(f"{source}: {key}: {problem}")


@lru_cache(maxsize=16)
def _examples(name: str, path: str, options: str, world: WorldSettings) -> tuple:
    """A task's examples (read once per process: a sweep validates many runs), in the run's synthetic world (whose
    ``synth_*`` tasks it generates)."""
    with using_world(world):
        return tuple(get_task(name, json.loads(options)).load(TaskConfig(name=name, path=path, options=json.loads(options))))


def check_task_data(config: RunConfig, source: str) -> None:
    """Load and split the task data (cheap next to training) to fail early on missing files, bad
    options and empty splits."""
    checks = [("task", config.task, ("train", "test"))]
    checks += [(f"ood_tasks[{i}]", t, ("test",)) for i, t in enumerate(config.ood_tasks)]
    for key, task, needed in checks:
        try:
            options = json.dumps(task.options, sort_keys=True, default=str)
            splits = get_task(task.name, task.options).splits(task, config.seed, list(_examples(task.name, task.path, options, config.world)))
        except ConfigError as error:
            raise ConfigError(f"{source}: {key}: {error}") from None
        for split in needed:
            if not getattr(splits, split):
                raise ConfigError(f"{source}: {key} ({task.name}): the {split} split is empty "
                                  f"(check max_examples / split_fractions / split_sizes)")
        if key == "task" and config.train.start == "sft":  # the SFT stage trains on the demonstrations
            try:
                check_demonstrations(get_task(task.name, task.options), splits.train, task.path)
            except ConfigError as error:
                raise ConfigError(f"{source}: train.start: 'sft': {error}") from None
