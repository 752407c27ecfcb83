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
from harness.config.errors import ConfigError, UnknownNameError, unknown_name_message
from harness.config.parse import parse_overrides, parse_with_overrides, read_yaml
from harness.config.schema import RunConfig, TaskConfig
from harness.loop.trackers.registry import check_trackers
from harness.models.specs import model_spec_problem
from harness.rewards.registry import RM_KINDS
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
    def fail(message: str) -> None:
        raise ConfigError(f"{source}: {message}")

    if not config.policy.model:
        fail("policy.model: give a hub name, a local folder or a .gguf file")
    if config.seed < 0:
        fail(f"seed: expected a non-negative integer, got {config.seed}")
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
        method = build_method(config.method.name, config.method.args, names, config.seed, config.best_rm)
    except UnknownNameError as error:
        fail(f"method.name: {error}")
    except ConfigError as error:
        fail(str(error))
    train = config.train
    for key in ("iterations", "batch_size", "num_samples", "pairs_per_prompt", "micro_batch_size", "updates_per_step", "max_new_tokens"):
        if getattr(train, key) < 1:
            fail(f"train.{key}: must be >= 1, got {getattr(train, key)}")
    if train.max_steps_per_iteration is not None and train.max_steps_per_iteration < 1:
        fail(f"train.max_steps_per_iteration: must be >= 1 (or null for every batch), got {train.max_steps_per_iteration}")
    if train.num_samples < 2:
        fail(f"train.num_samples: preference pairs need at least 2 samples per prompt, got {train.num_samples}")
    if train.temperature <= 0:
        fail(f"train.temperature: must be > 0 for sampling, got {train.temperature}")
    memory = config.memory
    if memory.generation_rows is not None and memory.generation_rows < 1:
        fail(f"memory.generation_rows: must be >= 1 (or null: as planned), got {memory.generation_rows}")
    if memory.gpu_memory_gib is not None and memory.gpu_memory_gib <= 2:
        fail(f"memory.gpu_memory_gib: expected the GiB of one GPU, above the 2 GiB a plan reserves, got {memory.gpu_memory_gib}")
    for key, task in [("task", config.task)] + [(f"ood_tasks[{i}]", t) for i, t in enumerate(config.ood_tasks)]:
        if task.name not in TASKS:
            fail(f"{key}.name: {unknown_name_message('task', task.name, TASKS.names())}")
        try:
            get_task(task.name, task.options)
        except ConfigError as error:
            fail(f"{key}: {error}")
    task_class = TASKS.get(config.task.name)
    if config.eval.decoding == "majority" and task_class.kind != "accuracy":
        fail(f"eval.decoding: a majority vote needs extracted answers to count; {config.task.name!r} is "
             f"{task_class.kind} (use greedy)")
    if config.mode == "best_of_n" and task_class.kind == "open_ended":
        fail("mode: best_of_n needs a task with gold references to score the chosen response; "
             f"{config.task.name!r} is open-ended")
    try:
        check_trackers(config.log)
    except ConfigError as error:
        fail(str(error))
    lm_eval = config.eval.lm_eval
    if lm_eval is not None:
        if importlib.util.find_spec("lm_eval") is None:
            fail("eval.lm_eval: needs lm-evaluation-harness, which is not installed (the lmeval extra: "
                 "pip install -e '.[lmeval]')")
        if lm_eval.batch_size < 1 or (lm_eval.limit is not None and lm_eval.limit < 1):
            fail(f"eval.lm_eval: batch_size and limit must be >= 1, got {lm_eval.batch_size} and {lm_eval.limit}")
        if task_class.kind != "accuracy":
            fail(f"eval.lm_eval: the run's own test split is scored by its answer check; {config.task.name!r} is "
                 f"{task_class.kind} (name lm-eval tasks in a separate `python -m harness lm-eval` call)")
    if method.needs_profile and config.profile is None:
        fail(f"method.name: {config.method.name!r} chooses from the run's RM profile; add a 'profile:' section "
             "(e.g. profile: {max_prompts: 64})")
    if method.trains_on == "demonstrations" and config.mode == "best_of_n":
        fail(f"method.name: {config.method.name!r} fine-tunes the policy on demonstrations; best_of_n mode never "
             "trains the policy (use mode: train)")
    if method.routes_prompts and config.mode == "best_of_n":
        fail(f"method.name: {config.method.name!r} routes each prompt to a reward model while training; best_of_n "
             "mode reranks test batches with one frozen choice each (use a per-batch method)")
    if task_class.kind == "open_ended":
        if config.profile is not None:
            fail(f"profile: task {config.task.name!r} has no gold answers, so RM competence cannot be measured on it")
        if METHODS.get(config.method.name).needs_gold_answers(config.method.args):
            fail(f"method.name: {config.method.name!r} needs gold answers; {config.task.name!r} has none")
        for rm, settings in zip(config.reward_models, parsed):
            if RM_KINDS.get(rm.kind).uses_gold_answers(settings):
                fail(f"reward_models: {rm.name!r} ({rm.kind}) needs gold answers, but {config.task.name!r} has none")
    if check_data:
        check_task_data(config, source)
        check_files(config, source, parsed)


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
def _examples(name: str, path: str, options: str) -> tuple:
    """A task's examples (read once per process: a sweep validates many runs)."""
    return tuple(get_task(name, json.loads(options)).load(TaskConfig(name=name, path=path, options=json.loads(options))))


def check_task_data(config: RunConfig, source: str) -> None:
    """Load and split the task data (cheap next to training) to fail early on missing files, bad
    options and empty splits."""
    checks = [("task", config.task, ("train", "test"))]
    checks += [(f"ood_tasks[{i}]", t, ("test",)) for i, t in enumerate(config.ood_tasks)]
    for key, task, needed in checks:
        try:
            options = json.dumps(task.options, sort_keys=True, default=str)
            splits = get_task(task.name, task.options).splits(task, config.seed, list(_examples(task.name, task.path, options)))
        except ConfigError as error:
            raise ConfigError(f"{source}: {key}: {error}") from None
        for split in needed:
            if not getattr(splits, split):
                raise ConfigError(f"{source}: {key} ({task.name}): the {split} split is empty "
                                  f"(check max_examples / split_fractions / split_sizes)")
