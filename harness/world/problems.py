"""The synthetic world's definition: its config (models and their training mixtures) and the problem
streams it draws from (demonstrations, the tasks' examples, held-out ranking prompts), plus where a built
world lives. Pure data: nothing here trains or loads a model."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.common.content_cache import cache_home
from harness.config.active_world import active_world_settings
from harness.config.ranges import RANGE, at_least, between, positive
from harness.config.schema import WorldSettings
from harness.world import families
from harness.world.families import Problem, generate

WORLD_VERSION = 2


@dataclass(frozen=True)
class ModelRecipe:
    """A model of the world: which demonstrations it is trained on, and for how long."""

    correct_share: dict[str, float] = field(metadata={
        "help": "Family -> share of correct demonstrations (the rest are buggy); absent: not trained on it.",
        RANGE: between(0, 1)})
    steps: int = field(metadata={"help": "Training steps.", RANGE: at_least(0)})


def _default_models() -> dict[str, ModelRecipe]:
    """The SFT policy and four RMs. Each expert learnt its own family's correct solutions and the other
    families' bugs (an RM fit to another domain's habits ranks those domains' answers backwards); the
    generalist learnt every family from a noisy mix (55-65% correct), so it is second best everywhere."""
    return {
        "policy": ModelRecipe({"count": 0.4, "facts": 0.4, "choice": 0.4}, steps=1000),
        "rm_count": ModelRecipe({"count": 1.0, "facts": 0.0, "choice": 0.0}, steps=500),
        "rm_facts": ModelRecipe({"count": 0.0, "facts": 1.0, "choice": 0.0}, steps=500),
        "rm_choice": ModelRecipe({"count": 0.0, "facts": 0.0, "choice": 1.0}, steps=500),
        "rm_generalist": ModelRecipe({"count": 0.55, "facts": 0.65, "choice": 0.55}, steps=500),
    }


@dataclass(frozen=True)
class WorldConfig:
    seed: int = field(default=0, metadata={RANGE: at_least(0)})
    hidden_size: int = field(default=64, metadata={RANGE: at_least(1)})
    num_layers: int = field(default=2, metadata={RANGE: at_least(1)})
    num_heads: int = field(default=4, metadata={RANGE: at_least(1)})
    demos_per_family: int = field(default=2000, metadata={RANGE: at_least(1)})
    task_examples_per_family: int = field(default=700, metadata={  # 300 train / 100 dev / 300 test by default
        RANGE: at_least(1)})
    batch_size: int = field(default=32, metadata={RANGE: at_least(1)})
    learning_rate: float = field(default=3e-3, metadata={RANGE: positive()})
    ranking_prompts: int = field(default=300, metadata={RANGE: at_least(1)})
    models: dict[str, ModelRecipe] = field(default_factory=_default_models)

    def digest(self) -> str:
        """The cache key of a build: this config, the world's version and the problem generators' code."""
        text = json.dumps({"version": WORLD_VERSION, "generators": hashlib.sha256(inspect.getsource(families).encode()).hexdigest(),
                           **asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def model_digest(self, name: str, recipe: ModelRecipe, seed: int) -> str:
        """The cache key of one model of this world: what its training and its measurement depend on (this config
        without the other models, its recipe, name and seed), so that worlds which differ in other models share it."""
        shared = {key: value for key, value in asdict(self).items() if key != "models"}
        text = json.dumps({"version": WORLD_VERSION, "generators": hashlib.sha256(inspect.getsource(families).encode()).hexdigest(),
                           "name": name, "recipe": asdict(recipe), "seed": seed, **shared}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


GENERALIST = "rm_generalist"


def expert_family(name: str) -> str | None:
    """The family an expert RM of the default world learnt (``rm_count`` -> ``count``), None for other models."""
    family = name.removeprefix("rm_")
    return family if name.startswith("rm_") and family in families.FAMILIES else None


def base_world() -> WorldConfig:
    """The world that a run's ``world`` knobs change: the default world (the quickstart's)."""
    return WorldConfig()


def world_config(settings: WorldSettings | None = None) -> WorldConfig:
    """The world a run's ``world`` settings name (None: the active ones, ``harness.config.active_world``): the default
    world (``base_world``) with its knobs changed. Every knob null gives the default world itself, with its digest."""
    settings = active_world_settings() if settings is None else settings
    config = base_world()
    models = dict(config.models)

    def every_family(recipe: ModelRecipe, share: float) -> ModelRecipe:
        return replace(recipe, correct_share={family: float(share) for family in recipe.correct_share})

    if settings.policy_correct_share is not None:
        models["policy"] = every_family(models["policy"], settings.policy_correct_share)
    if settings.generalist_correct_share is not None:
        models[GENERALIST] = every_family(models[GENERALIST], settings.generalist_correct_share)
    if settings.expert_sharpness is not None:
        sharpness = float(settings.expert_sharpness)
        for name, recipe in config.models.items():
            own = expert_family(name)
            if own is not None:
                models[name] = replace(recipe, correct_share={family: sharpness if family == own else round(1.0 - sharpness, 12)
                                                              for family in recipe.correct_share})
    if settings.seed is not None:
        config = replace(config, seed=settings.seed)
    return replace(config, models=models) if models != config.models else config


def cache_root() -> Path:
    return cache_home() / "world"


def world_dir(config: WorldConfig | None = None) -> Path:
    """Where the world ``config`` (None: the active world) is cached."""
    return cache_root() / (config or world_config()).digest()


@functools.lru_cache(maxsize=32)
def _generated(family: str, count: int, seed: int) -> tuple[Problem, ...]:
    """``families.generate``, once per process: each run loads its task twice, and a sweep worker runs many
    (the 2,000 demonstrations per family are regenerated to exclude their prompts; ~1 s per load)."""
    return tuple(generate(family, count, seed))


def demo_problems(config: WorldConfig, family: str) -> list[Problem]:
    return list(_generated(family, config.demos_per_family, config.seed * 1000 + 1))


def task_problems(config: WorldConfig, family: str) -> list[Problem]:
    """The task's own problems: a different stream, with every prompt seen in training removed."""
    seen = {p.prompt for p in demo_problems(config, family)}
    pool = _generated(family, config.task_examples_per_family + len(seen), config.seed * 1000 + 2)
    return [p for p in pool if p.prompt not in seen][: config.task_examples_per_family]


def ranking_problems(config: WorldConfig, family: str) -> list[Problem]:
    seen = {p.prompt for p in demo_problems(config, family)}
    pool = _generated(family, config.ranking_prompts + len(seen), config.seed * 1000 + 3)
    return [p for p in pool if p.prompt not in seen][: config.ranking_prompts]


def read_report(config: WorldConfig | None = None) -> dict[str, Any]:
    """A built world's ``report.json`` (RM ranking accuracy per family, the policy's greedy accuracy)."""
    path = world_dir(config) / "report.json"  # None: the active world
    if not path.exists():
        raise FileNotFoundError(f"the synthetic world is not built yet ({path} missing): load one of its models "
                                "('world:policy') or run a sweep with 'setup: {world: {}}' first")
    return json.loads(path.read_text())
