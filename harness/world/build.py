"""Build (once) and cache the synthetic world: a mediocre SFT policy and K reward models of the same
tiny Llama architecture, trained on chosen mixtures of correct and buggy demonstrations.

The cache lives in ``$HARNESS_CACHE/world/<hash of WorldConfig>/`` (default ``~/.cache/harness``); a
build is deterministic for the config, locked against concurrent builders and published atomically.
``report.json`` holds each RM's pairwise ranking accuracy per family (correct vs buggy response to the
same held-out prompt), measured through the same ``loglik`` reward code that training uses.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import multiprocessing
import os
import shutil
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from safetensors import safe_open
from transformers import LlamaConfig, LlamaForCausalLM

from harness.common.processes import die_with_parent
from harness.config.schema import PolicyConfig, RunConfig
from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.logprobs import completion_logps, make_token_batch
from harness.models.policy import Policy
from harness.models.quiet import quiet_libraries
from harness.models.specs import ModelSource
from harness.models.tiny import byte_tokenizer, tiny_llama_config
from harness.rewards.base import ModelScorerConfig
from harness.rewards.loglik import LogLikelihoodRM
from harness.world.families import FAMILIES
from harness.world.problems import (
    ModelRecipe,
    WorldConfig,
    cache_root,
    demo_problems,
    ranking_problems,
    task_problems,
    world_config,
    world_dir,
)
from harness.world.tasks import WORLD_TASK_NAMES, WORLD_TASKS, get_world_task


def _train_model(folder: Path, recipe: ModelRecipe, config: WorldConfig, seed: int, log) -> None:
    tokenizer = byte_tokenizer()
    rng = np.random.default_rng(seed)
    demos: list[tuple[list[int], list[int]]] = []
    for family, share in recipe.correct_share.items():
        for problem in demo_problems(config, family):
            text = problem.correct if rng.uniform() < share else problem.buggy
            demos.append((tokenizer(problem.prompt)["input_ids"],
                          tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]))
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_llama_config(len(tokenizer), hidden_size=config.hidden_size,
                                               num_layers=config.num_layers, num_heads=config.num_heads, max_positions=256))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.learning_rate, total_steps=recipe.steps, pct_start=0.1)
    model.train()
    for step in range(recipe.steps):
        batch_ids = rng.choice(len(demos), size=config.batch_size, replace=False)
        batch = make_token_batch([demos[i][0] for i in batch_ids], [demos[i][1] for i in batch_ids], tokenizer.pad_token_id)
        sums, counts = completion_logps(model, batch)
        loss = -(sums.sum() / counts.sum())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if (step + 1) % 200 == 0:
            log(f"  {folder.name}: step {step + 1}/{recipe.steps} loss {loss.item():.3f}")
    model.eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def _train_and_measure(folder: Path, recipe: ModelRecipe, config: WorldConfig, seed: int) -> None:
    """Train one model of the world and measure it (an RM's ranking accuracy, the policy's accuracy)."""
    quiet_libraries()  # a spawned builder process starts with the libraries' defaults
    torch.set_num_threads(1)
    _train_model(folder, recipe, config, seed, log=lambda message: None)
    measured = policy_accuracy(folder, config) if folder.name == "policy" else ranking_accuracy(folder, config)
    (folder / "measured.json").write_text(json.dumps(measured))


def ranking_accuracy(model_folder: Path, config: WorldConfig) -> dict[str, float]:
    """Per family: how often the RM scores the correct solution above the buggy one of the same prompt."""
    rm = LogLikelihoodRM(model_folder.name, ModelScorerConfig(model=str(model_folder)),
                         load_causal_lm(str(model_folder), "float32", "cpu"), load_tokenizer(str(model_folder)))
    out = {}
    for family in FAMILIES:
        problems = ranking_problems(config, family)
        prompts = [p.prompt for p in problems]
        good = np.asarray(rm.score(prompts, [p.correct for p in problems]))
        bad = np.asarray(rm.score(prompts, [p.buggy for p in problems]))
        out[family] = float(np.mean(good > bad))
    return out


def policy_accuracy(model_folder: Path, config: WorldConfig) -> dict[str, float]:
    """Greedy accuracy of the SFT policy on each family's task problems (its headroom)."""
    policy = Policy(PolicyConfig(model=str(model_folder), lora=None, max_prompt_tokens=256))
    out = {}
    for family in FAMILIES:
        task = get_world_task(WORLD_TASKS[family])
        problems = task_problems(config, family)[:200]
        examples = [task.to_example(p) for p in problems]
        samples = policy.generate(policy.encode_prompts([task.prompt(e) for e in examples]), 1, do_sample=False, max_new_tokens=48)
        out[family] = float(np.mean([task.is_correct(s[0].text, e) for s, e in zip(samples, examples)]))
    return out


_VERIFIED: set[Path] = set()  # built worlds this process has checked


def model_problem(folder: Path) -> str | None:
    """What is wrong with one built model's folder (None: nothing): its config and weights (the safetensors header
    and tensor index are read, not the tensors), its tokenizer."""
    name = folder.name
    for required in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (folder / required).is_file():
            return f"{name}/{required} missing"
    try:
        json.loads((folder / "config.json").read_text())
        with safe_open(str(folder / "model.safetensors"), framework="pt") as weights:
            if not list(weights.keys()):
                return f"{name}/model.safetensors holds no tensors"
    except Exception as error:  # safetensors raises its own error types for a damaged file
        return f"{name}: {type(error).__name__}: {str(error)[:120]}"
    return None


def world_problem(target: Path, config: WorldConfig) -> str | None:
    """What is wrong with a cached world (None: nothing): its report, and every model (``model_problem``)."""
    try:
        json.loads((target / "report.json").read_text())
    except (OSError, ValueError) as error:
        return f"report.json: {error}"
    for name in config.models:
        problem = model_problem(target / name)
        if problem is not None:
            return problem
    return None


MODEL_STORE = ".models"  # under the world cache: one copy of every model trained, by what its training depends on


def stored_model(config: WorldConfig, name: str, recipe: ModelRecipe, seed: int) -> Path:
    """Where a trained model of a world is kept for other worlds that train the same model (same recipe, seed, sizes
    and problems: e.g. the RMs of worlds that differ only in the policy's correct share)."""
    return cache_root() / MODEL_STORE / config.model_digest(name, recipe, seed)


def _reuse(job: tuple[Path, ModelRecipe, WorldConfig, int]) -> bool:
    """Copy the job's model (with its measurement) from the model store when an earlier build trained it; a damaged
    copy is removed (and the model trained again)."""
    folder, recipe, config, seed = job
    stored = stored_model(config, folder.name, recipe, seed)
    if not (stored / "measured.json").is_file():
        return False
    if model_problem(stored) is not None:
        shutil.rmtree(stored, ignore_errors=True)
        return False
    shutil.copytree(stored, folder)
    return True


def _model_jobs(config: WorldConfig, root: Path) -> list[tuple[Path, ModelRecipe, WorldConfig, int]]:
    """The world's models as training jobs (folder ``root/<name>``, recipe, world, seed), longest first; a model's
    seed is its place in that order."""
    return [(root / name, recipe, config, config.seed * 100 + index)
            for index, (name, recipe) in enumerate(sorted(config.models.items(), key=lambda kv: -kv[1].steps))]


def _train_all(jobs: Sequence[tuple[Path, ModelRecipe, WorldConfig, int]]) -> None:
    """Train and measure the jobs, in a process per core (each with one thread: a model's bytes never depend on how
    many were trained beside it)."""
    jobs = sorted(jobs, key=lambda job: -job[1].steps)  # the longest first, so the processes finish together
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    if workers == 1:
        for job in jobs:
            _train_and_measure(*job)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=die_with_parent, initargs=(os.getpid(),)) as pool:
        list(pool.map(_train_and_measure, *zip(*jobs)))


def train_world_models(configs: Sequence[WorldConfig], verbose: bool = True) -> None:
    """Train, in one pool of processes, every model that the worlds among ``configs`` not built yet need and no
    earlier build trained (each distinct one once, however many worlds share it), into the model store; the worlds
    are then put together from it (``ensure_world``). A sweep over several worlds trains their models side by side."""
    log = print if verbose else (lambda message: None)
    pending: dict[str, tuple[Path, ModelRecipe, WorldConfig, int]] = {}
    unbuilt = [config for config in configs if not is_built(config)]
    scratch = cache_root() / MODEL_STORE / f".training-{os.getpid()}"
    for config in unbuilt:
        for folder, recipe, world, seed in _model_jobs(config, scratch):
            key = world.model_digest(folder.name, recipe, seed)
            stored = stored_model(world, folder.name, recipe, seed)
            if key not in pending and not ((stored / "measured.json").is_file() and model_problem(stored) is None):
                pending[key] = (scratch / key / folder.name, recipe, world, seed)
    if not pending:
        return
    started = time.perf_counter()
    shutil.rmtree(scratch, ignore_errors=True)
    workers = max(1, min(len(pending), os.cpu_count() or 1))
    log(f"training the {len(pending)} models of {len(unbuilt)} synthetic world(s) in {workers} process(es) "
        "(once; cached afterwards)")
    try:
        _train_all(list(pending.values()))
        for job in pending.values():
            _keep(job)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"  trained in {time.perf_counter() - started:.1f}s")


def _keep(job: tuple[Path, ModelRecipe, WorldConfig, int]) -> None:
    """Put a freshly trained model into the model store (atomically; a copy another build put there first stays)."""
    folder, recipe, config, seed = job
    stored = stored_model(config, folder.name, recipe, seed)
    if stored.exists():
        return
    partial = stored.with_name(f".{stored.name}.{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(folder, partial)
    try:
        os.replace(partial, stored)
    except OSError:  # another build published the same model meanwhile
        shutil.rmtree(partial, ignore_errors=True)


def ensure_world(config: WorldConfig | None = None, verbose: bool = True, **overrides: Any) -> Path:
    """The world's folder (None: the active world's, ``harness.config.active_world``), built first if the cache does
    not hold it yet."""
    config = config or (WorldConfig(**overrides) if overrides else world_config())
    target = world_dir(config)
    if target in _VERIFIED:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # one builder; the others wait and then reuse its work
        if (target / "report.json").exists():  # built (by us earlier, or by the process we waited for)
            problem = world_problem(target, config)
            if problem is None:
                _VERIFIED.add(target)
                return target
            aside = target.with_name(f"{target.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
            os.replace(target, aside)
            warnings.warn(f"cached synthetic world {target} is damaged ({problem}); moved aside to {aside.name} "
                          "and rebuilt", RuntimeWarning, stacklevel=2)
        log = print if verbose else (lambda message: None)
        started = time.perf_counter()
        log(f"building the synthetic world in {target} (once; cached afterwards)")
        building = target.parent / f".{target.name}.building"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir(parents=True)
        jobs = _model_jobs(config, building)
        reused = [job[0].name for job in jobs if _reuse(job)]
        jobs = [job for job in jobs if job[0].name not in reused]
        if reused:
            log(f"  {len(reused)} of its models already trained ({', '.join(reused)})")
        if jobs:
            workers = max(1, min(len(jobs), os.cpu_count() or 1))
            log(f"  training {len(jobs)} models ({', '.join(j[0].name for j in jobs)}) in {workers} process(es)")
        _train_all(jobs)
        for job in jobs:
            _keep(job)
        report: dict[str, Any] = {"config": asdict(config), "ranking_accuracy": {}, "policy_greedy_accuracy": {}}
        for name in sorted(config.models):
            measured = json.loads((building / name / "measured.json").read_text())
            if name == "policy":
                report["policy_greedy_accuracy"] = measured
            else:
                report["ranking_accuracy"][name] = measured
        report["build_seconds"] = round(time.perf_counter() - started, 1)
        (building / "report.json").write_text(json.dumps(report, indent=2))
        shutil.rmtree(target, ignore_errors=True)
        os.replace(building, target)
        _VERIFIED.add(target)
        log(format_report(report))
    return target


def load_report(config: WorldConfig | None = None) -> dict[str, Any]:
    """The world's build report, building the world first if needed."""
    return json.loads((ensure_world(config, verbose=False) / "report.json").read_text())


class WorldModel(ModelSource):
    """``world:NAME``: a model of the active synthetic world (the run's ``world`` settings; built on first use)."""

    description = ("a model of the synthetic world (the run's world settings), built and cached on first use: world:policy, "
                   "world:rm_count, ...")

    def locate(self, name: str) -> Path:
        folder = ensure_world() / name
        if not folder.is_dir():
            raise FileNotFoundError(f"model spec 'world:{name}': the synthetic world has no model {name!r}")
        return folder


def format_report(report: dict[str, Any]) -> str:
    lines = [f"synthetic world built in {report['build_seconds']}s",
             "RM pairwise ranking accuracy (correct vs buggy response, held-out prompts):",
             "  " + " ".join(f"{f:>8s}" for f in FAMILIES) + "  rm"]
    for name, accuracy in sorted(report["ranking_accuracy"].items()):
        lines.append("  " + " ".join(f"{accuracy[f]:8.3f}" for f in FAMILIES) + f"  {name}")
    lines.append("SFT policy greedy accuracy: " + ", ".join(f"{f} {a:.3f}" for f, a in report["policy_greedy_accuracy"].items()))
    return "\n".join(lines)


class WorldSetup:
    """The sweep hook ``setup: {world: {}}``: build, before the runs, every world they use (each distinct one once)."""

    Config = WorldConfig
    description = "build (once per machine, cached) every synthetic world the sweep's runs use, before the runs"

    @classmethod
    def from_config(cls, config: WorldConfig, context: Any) -> WorldSetup:
        """``context``: the sweep's ``SetupContext`` (``harness.sweep.run_sweep``), of which the world needs nothing."""
        return cls(config)

    def __init__(self, config: WorldConfig):
        self.config = config

    def check(self) -> str | None:
        """Settings here are refused: a run's world is its own config's ``world`` section (a sweep varies it like any
        setting), so a world built from settings here would be built for nothing."""
        default = WorldConfig()
        config = self.config
        changed = [f.name for f in dataclasses.fields(WorldConfig) if getattr(config, f.name) != getattr(default, f.name)]
        if changed:
            return (f"{changed[0]}: a run's world comes from its config's world: section (policy_correct_share, "
                    "generalist_correct_share, expert_sharpness, seed; vary it with grid:), so leave setup.world empty ({})")
        return None

    def run(self, runs: Sequence[RunConfig]) -> None:
        worlds = worlds_used(runs)
        train_world_models(worlds)  # every world's models side by side, then each world from them
        for config in worlds:
            ensure_world(config)


def uses_world(config: RunConfig) -> bool:
    """Whether a run loads a ``world:`` model or a ``synth_*`` task (so its world must exist)."""
    specs = [config.policy.model] + [str(rm.settings.get(key, "")) for rm in config.reward_models for key in ("model", "reference")]
    tasks = [config.task.name] + [task.name for task in config.ood_tasks]
    return any(spec.startswith("world:") for spec in specs) or any(name in WORLD_TASK_NAMES for name in tasks)


def worlds_used(runs: Sequence[RunConfig]) -> list[WorldConfig]:
    """The distinct worlds the runs use, in the order of their first run."""
    found: dict[str, WorldConfig] = {}
    for config in runs:
        if uses_world(config):
            world = world_config(config.world)
            found.setdefault(world.digest(), world)
    return list(found.values())


def is_built(config: WorldConfig) -> bool:
    """Whether the cache holds the world ``config`` (its report written; not verified)."""
    return (world_dir(config) / "report.json").is_file()


def world_model_config(name: str, config: WorldConfig | None = None) -> LlamaConfig:
    """The architecture of the world's model ``name`` (every world model has the same), known without building the
    world: what a memory plan needs of ``world:NAME``."""
    config = config or WorldConfig()
    if name not in config.models:
        raise FileNotFoundError(f"model spec 'world:{name}': the synthetic world has no model {name!r}")
    return tiny_llama_config(len(byte_tokenizer()), hidden_size=config.hidden_size, num_layers=config.num_layers,
                             num_heads=config.num_heads, max_positions=256)
