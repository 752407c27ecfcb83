"""Measure (or load from the cache) the on-policy competence of every RM of a run config.

The run's untrained policy samples ``num_samples`` responses to each training prompt (at most
``max_prompts`` per category) with the run's sampling settings; the task's gold answer marks each right or
wrong; every RM of the pool (the built-in ``correctness`` RM too) scores them; ``competence.measure`` gives
pairwise accuracy and AUC per category, ``teaching`` the normalised within-prompt reward std and the mean margin
of the pairs the loop would build (``train.pairs_per_prompt``, drawn from a stream of their own, so the samples
and the AUCs are the same draws as without them). The result is stored under the SHA-256 of everything it depends
on (policy and RM identities, task, sampling, profile settings) in ``<cache>/profiles/``, built once under
a file lock however many runs ask for it at the same time. A run that starts from the SFT policy
(``train.start: sft``) is measured against the profile of that policy: the SFT stage's weights merged into
``policy.model`` (``harness.models.start``), keyed by the stage as well.
"""

from __future__ import annotations

import fcntl
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from tqdm import tqdm

from harness.common.content_cache import ContentCache, cache_home, content_key
from harness.common.files import read_json, write_json_atomic
from harness.common.seeding import stable_seed
from harness.common.selection_log import ALL_CATEGORIES
from harness.config.active_world import using_world
from harness.config.errors import ConfigError
from harness.config.parse import to_dict
from harness.config.schema import ProfileConfig, RunConfig
from harness.models.loading import model_identity
from harness.models.placement import placement_for
from harness.models.policy import Policy
from harness.models.start import StartPolicy, merged_model, start_identity
from harness.profile.competence import measure
from harness.profile.teaching import mean_margin, normaliser, pair_margins, reward_std
from harness.rewards.pool import build_reward_models
from harness.tasks.base import Example, Task
from harness.tasks.registry import get_task

PROFILE_VERSION = 2  # 2: reward_std, mean_margin and margin_pairs per RM and category
ALL = ALL_CATEGORIES


def profile_settings(config: RunConfig) -> ProfileConfig:
    return config.profile or ProfileConfig()


def sampling_batch_size(config: RunConfig) -> int:
    """Prompts the profile samples together (its draws depend on it, so it is part of the key)."""
    return profile_settings(config).batch_size or config.train.batch_size


def profile_identity(config: RunConfig, start: StartPolicy | None = None) -> dict[str, Any]:
    """Everything a profile's numbers depend on (not the method, the run seed or the output folder); ``start``: the
    trained weights the policy starts from (``train.start: sft``), None for ``policy.model`` itself."""
    with using_world(config.world):  # world:NAME models are identified in the config's world
        identity = _profile_identity(config)
    if start is not None:  # a profile of policy.model keeps the key it had before runs could start elsewhere
        identity["start"] = start_identity(start)
    return identity


def _profile_identity(config: RunConfig) -> dict[str, Any]:
    policy = config.policy
    rms = []
    for rm in config.reward_models:
        models = {key: model_identity(str(value), rm.settings.get("dtype", "auto"), rm.settings.get("device", "auto"))
                  for key, value in rm.settings.items() if key in ("model", "reference")}
        rms.append({**to_dict(rm), "models": models})
    train = config.train
    sampling = {"n": train.num_samples, "temperature": train.temperature, "top_p": train.top_p,
                "max_new_tokens": train.max_new_tokens, "batch_size": sampling_batch_size(config)}
    if config.memory.generation_rows is not None:  # rows drawn from their own streams: other draws than without
        sampling["row_streams"] = True
    identity = {"version": PROFILE_VERSION, "task": to_dict(config.task), "profile": to_dict(profile_settings(config)),
                "policy": {**to_dict(policy), "identity": model_identity(policy.model, policy.dtype, policy.device)},
                "reward_models": rms, "sampling": sampling, "pairs_per_prompt": train.pairs_per_prompt}
    if not config.world.is_default():  # the default world's profiles keep the keys they had before worlds could vary
        identity["world"] = to_dict(config.world)
    return identity


def profile_examples(task: Task, config: RunConfig) -> list[Example]:
    """The training prompts a profile samples: the train split under the profile's seed, capped per category."""
    settings = profile_settings(config)
    train = task.splits(config.task, settings.seed).train
    if settings.max_prompts is None:
        return list(train)
    kept: dict[str, int] = defaultdict(int)
    chosen = []
    for example in train:
        category = example.category or ALL
        if kept[category] < settings.max_prompts:
            kept[category] += 1
            chosen.append(example)
    return chosen


def measure_profile(config: RunConfig, progress: bool = True, score_cache: ContentCache | None = None,
                    start: StartPolicy | None = None) -> dict[str, Any]:
    """Sample, mark, score and measure: the profile of ``config``'s policy, RMs and task (in ``config``'s synthetic
    world where they come from one). With ``score_cache``, an RM that wraps another (``noisy``) reuses its base's
    scores, and a repeated measurement the RM scores. With ``start``, the policy is ``policy.model`` with those
    trained weights (the SFT policy a ``train.start: sft`` run starts from)."""
    with using_world(config.world):
        return _measure_profile(config, progress, score_cache, start)


def _measure_profile(config: RunConfig, progress: bool, score_cache: ContentCache | None,
                     start_policy: StartPolicy | None) -> dict[str, Any]:
    started = time.perf_counter()
    task = get_task(config.task.name, config.task.options)
    if task.kind == "open_ended":
        raise ConfigError(f"profile: task {task.name!r} has no gold answers, so no response can be marked right or "
                          "wrong; profile a task with gold answers (accuracy or graded)")
    settings = profile_settings(config)
    examples = profile_examples(task, config)
    if not examples:
        raise ConfigError(f"profile: task {task.name!r} has no training prompts (check split_sizes / max_prompts)")
    n = settings.num_samples or config.train.num_samples
    if start_policy is None:
        policy = Policy(config.policy)
    else:
        policy = Policy(config.policy, merged_model(config.policy, start_policy.weights), start=start_identity(start_policy))
    policy.use_memory_settings(config.memory)  # resolved by the run's memory plan (null: off)
    placement = placement_for(config.memory.offload_reward_models, "auto")
    pool = build_reward_models(config.reward_models, task.gold_reward, settings.seed, cache=score_cache, demonstration=task.demonstration,
                               placement=placement)
    size = sampling_batch_size(config)
    prompts, responses, references, correct, groups, categories, identities = [], [], [], [], [], [], []
    starts = range(0, len(examples), size)
    for index, start in enumerate(tqdm(starts, desc=f"profile {task.name}: sampling", unit="batch", leave=False,
                                       disable=not progress or len(starts) < 5)):
        batch = examples[start:start + size]
        batch_prompts = [task.prompt(e) for e in batch]
        samples = policy.generate(policy.encode_prompts(batch_prompts), n, do_sample=True,
                                  temperature=config.train.temperature, top_p=config.train.top_p,
                                  max_new_tokens=config.train.max_new_tokens,
                                  seed=stable_seed(settings.seed, "profile", task.name, index))
        for example, prompt, group in zip(batch, batch_prompts, samples):
            for sample in group:
                prompts.append(prompt)
                responses.append(sample.text)
                references.append(example)
                correct.append(task.score(sample.text, example) >= settings.correct_threshold)
                groups.append(example.id)
                categories.append(example.category or ALL)
                identities.append(tuple(sample.token_ids))  # as the loop marks duplicates
    scores = {name: np.asarray(rm.score(prompts, responses, references if rm.needs_references else None), dtype=np.float64)
              for name, rm in tqdm(pool.items(), desc=f"profile {task.name}: scoring {len(responses)} responses",
                                   unit="RM", leave=False, disable=not progress)}
    correct_array, group_array, category_array = np.asarray(correct), np.asarray(groups), np.asarray(categories)
    names = sorted(set(categories))
    category_of = dict(zip(groups, categories))
    scales = {name: normaliser(values) for name, values in scores.items()}
    margins = {name: pair_margins(values, groups, identities, config.train.pairs_per_prompt,
                                  np.random.default_rng(stable_seed(settings.seed, "pairs", name)))
               if scales[name] is not None else ([], np.zeros(0)) for name, values in scores.items()}
    by_category: dict[str, Any] = {}
    for category in names + ([ALL] if len(names) > 1 else []):
        rows = np.ones(len(categories), dtype=bool) if category == ALL and len(names) > 1 else category_array == category
        competence = {name: measure(values[rows], correct_array[rows], group_array[rows], settings.resamples,
                                    seed=stable_seed(settings.seed, "bootstrap", category, name)).to_dict()
                      for name, values in scores.items()}
        for name, values in scores.items():
            pair_prompts, pair_values = margins[name]
            kept = np.asarray([category in (ALL, category_of[p]) for p in pair_prompts], dtype=bool)
            competence[name].update(reward_std=reward_std(values[rows], group_array[rows], scales[name]),
                                    mean_margin=mean_margin(pair_values[kept], scales[name]), margin_pairs=int(kept.sum()))
        by_category[category] = {"prompts": int(len(set(group_array[rows]))), "samples": int(rows.sum()),
                                 "sample_accuracy": float(correct_array[rows].mean()), "reward_models": competence}
    configured = [rm.name for rm in config.reward_models]
    measured = {"version": PROFILE_VERSION, "task": task.name, "policy": config.policy.model, "num_samples": n,
                "reward_models": configured, "categories": by_category,
                "best_rm": {c: best_rm(by_category[c]["reward_models"], configured) for c in by_category},
                "seconds": round(time.perf_counter() - started, 2)}
    if start_policy is not None:
        measured["start"] = start_identity(start_policy)
    return measured


def best_rm(competence: dict[str, dict[str, Any]], among: list[str]) -> str | None:
    """The most competent of ``among`` by AUC (pairwise accuracy, then name, break ties)."""
    ranked = sorted((-c["auc"], -(c["pairwise_accuracy"] or 0.0), name) for name in among
                    if (c := competence.get(name)) and c["auc"] is not None)
    return ranked[0][2] if ranked else None


def profile_path(config: RunConfig, cache_root: str | Path | None = None, start: StartPolicy | None = None) -> Path:
    """Where the profile of ``config`` (from ``start``) is cached: ``<cache_root>/profiles/<content key>.json``
    (default root: the harness cache)."""
    folder = Path(cache_root) if cache_root else cache_home()
    return folder / "profiles" / f"{content_key(profile_identity(config, start))}.json"


def measure_missing_profiles(configs: Sequence[RunConfig]) -> list[tuple[str, str]]:
    """Measure, once each, the profiles of ``policy.model`` that ``configs`` ask for and the cache lacks; a sweep
    whose runs share this machine does so before they start, so that no worker waits idle for another's measurement.
    Returns (task, what happened) for each one tried; one that fails is left to its runs, which record the error."""
    measured, seen = [], set()
    for config in configs:
        if config.profile is None:
            continue
        path = profile_path(config)
        if path in seen or path.exists():
            continue
        seen.add(path)
        started = time.perf_counter()
        try:
            ensure_profile(config)
        except Exception as error:  # the runs that need it fail with this error, recorded in their folders
            measured.append((config.task.name, f"not measured ({type(error).__name__}: {str(error)[:200]}); its runs "
                                                "will try again and record the error"))
            continue
        measured.append((config.task.name, f"RM competence on the policy's own samples measured in "
                                            f"{time.perf_counter() - started:.1f}s"))
    return measured


def ensure_profile(config: RunConfig, cache_root: str | Path | None = None, progress: bool = False,
                   start: StartPolicy | None = None) -> dict[str, Any]:
    """The profile of ``config`` (its policy from ``start`` where given) from ``<cache_root>/profiles/`` (default:
    the harness cache), measured first if absent; concurrent callers wait for one measurement instead of repeating
    it."""
    path = profile_path(config, cache_root, start)
    key = path.stem
    if path.exists():
        return read_json(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{key}.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if not path.exists():
            scores = ContentCache(path.parent / "rm_scores.sqlite")
            write_json_atomic(path, {**measure_profile(config, progress=progress, score_cache=scores, start=start), "key": key})
    return read_json(path)
