"""The reward-model interface: ``score(prompts, responses, references=None) -> list[float]``, higher is better.

A kind of reward model is one ``RewardModel`` subclass in its own file (its settings a dataclass ``Config``,
built by ``from_config(config, context)``) plus one line in ``harness.rewards.registry.RM_KINDS``. ``BuildContext``
is the context it builds from: the RM's name in the pool, one copy of each model however many RMs name it, the
task's gold check, the run seed and the RMs built so far. ``ModelScorerConfig`` holds the settings of the kinds
that score with a model.
With a ``ModelPlacement`` (offloaded RMs), ``BuildContext`` loads each model onto the slot's home device and notes
the models every RM asks for, so the pool knows each RM's model group without the kinds declaring it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal, Sequence

import torch

from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, at_least
from harness.config.registry import NoArgs
from harness.models.loading import load_causal_lm, load_tokenizer, model_identity
from harness.models.placement import ModelPlacement
from harness.tasks.base import plain_solution


@dataclass(kw_only=True)
class ModelScorerConfig:
    model: str = field(metadata={"help": "Hub name, local folder, .gguf file, SOURCE:NAME or alias."})
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    device: str = "auto"
    batch_tokens: int = field(default=8192, metadata={"help": "Token budget of one scoring forward pass.", RANGE: at_least(1)})
    chat_template: bool | None = field(default=None, metadata={
        "help": "Format (prompt, response) with the RM tokenizer's chat template, as RewardBench does; null (default): "
                "on exactly when the tokenizer has one (chat RMs), false: plain prompt + response."})
    max_prompt_tokens: int | None = field(default=None, metadata={
        "help": "Cut longer prompts in the middle before scoring (long-context tasks); null keeps them whole.",
        RANGE: at_least(1)})


class RewardModel:
    """Scores responses to prompts; higher is better. ``references`` carries gold answers when needed."""

    Config: ClassVar[type] = NoArgs
    name: str = ""
    needs_references: bool = False
    description: ClassVar[str] = ""
    cacheable: ClassVar[bool] = False  # deterministic in (prompt, response): scores may be shared between runs

    @classmethod
    def from_config(cls, config: Any, context: BuildContext) -> RewardModel:
        """The RM named ``context.name`` with settings ``config``."""
        raise NotImplementedError

    @classmethod
    def depends_on(cls, config: Any) -> str | None:
        """The name of another RM this one wraps (built first), if any."""
        return None

    @classmethod
    def check(cls, name: str, config: Any, pool: Sequence[str]) -> str | None:
        """What is wrong with ``config`` given the names of the pool's RMs (None when nothing is)."""
        return None

    @classmethod
    def check_task(cls, config: Any, task: str, task_kind: str) -> str | None:
        """What keeps an RM of these settings from scoring task ``task`` of ``task_kind`` (None: nothing); the
        run-config check prefixes ``reward_models: '<name>' (<kind>)``."""
        if task_kind == "open_ended" and cls.uses_gold_answers(config):
            return f"needs gold answers, but {task!r} has none"
        return None

    @classmethod
    def uses_gold_answers(cls, config: Any) -> bool:
        """Whether an RM of these settings scores against the task's gold answers or written solutions (refused
        on open-ended tasks, which have none)."""
        return cls.needs_references

    @classmethod
    def model_specs(cls, config: Any) -> dict[str, str]:
        """The models ``config`` loads, by setting name (checked before a run starts, without loading them)."""
        model = getattr(config, "model", None)
        return {"model": model} if isinstance(model, str) and model else {}

    @classmethod
    def cache_identity(cls, config: Any) -> dict[str, Any]:
        """What a cacheable RM's scores depend on besides (prompt, response), for shared-cache keys."""
        model = config.model
        return {"model": model_identity(model, config.dtype, config.device), "chat_template": config.chat_template}

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              references: Sequence[Any] | None = None) -> list[float]:
        raise NotImplementedError

    def example_key(self, example: Any) -> str | None:
        """What of a response's example, beyond (prompt, response), its score depends on (None: nothing), so a
        shared cache keys the score on it too (a reference-based metric: the example's reference)."""
        return None

    def record(self) -> dict[str, Any]:
        """The settings it resolved when built (e.g. whether it formats with a chat template), for the run's
        metrics and the shared-cache key."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class ModelScorerRM(RewardModel):
    """An RM that scores with a model and its tokenizer (``ModelScorerConfig``): it resolves, and records, whether
    it formats its input with the tokenizer's chat template (``uses_chat_template``)."""

    def __init__(self, name: str, config: ModelScorerConfig, model: torch.nn.Module, tokenizer: Any):
        self.name, self.config, self.model, self.tokenizer = name, config, model, tokenizer
        self.chat_template = uses_chat_template(config.chat_template, tokenizer, config.model)

    def record(self) -> dict[str, Any]:
        return {"chat_template": self.chat_template}


def uses_chat_template(setting: bool | None, tokenizer: Any, model: str) -> bool:
    """Whether an RM formats its input with its tokenizer's chat template: ``setting``, or when it is None, whether
    the tokenizer has a template (RewardBench formats a chat RM's input with the RM's own template)."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if setting is None:
        return has_template
    if setting and not has_template:
        raise ConfigError(f"chat_template: true, but the tokenizer of {model!r} has no chat template (use null or false)")
    return setting


@dataclass
class BuildContext:
    """What reward models are built from: shared model loading, the task's answer check and its written
    solution of an example (``Task.demonstration``, which reference-based RMs compare against), the run seed,
    the RMs built so far (for RMs that wrap another) and ``name``, the name of the RM being built (``for_rm``).
    With a ``placement``, models meant for its compute device are loaded onto its home device instead, and
    ``requested`` lists the offloaded models asked for since the pool last cleared it (the model group of the RM
    being built)."""

    gold_reward: Callable[[str, Any], float]
    seed: int
    demonstration: Callable[[Any], str | None] = plain_solution
    pool: dict[str, RewardModel] = field(default_factory=dict)
    loaded: dict[tuple[str, ...], Any] = field(default_factory=dict)
    placement: ModelPlacement | None = None
    requested: list[torch.nn.Module] = field(default_factory=list)
    name: str = ""

    def for_rm(self, name: str) -> BuildContext:
        """The context of the RM ``name``: this one, sharing its loaded models and pool, under that name."""
        return dataclasses.replace(self, name=name)

    def shared_model(self, role: str, spec: str, dtype: str, device: str,
                     load: Callable[[str, str, str], torch.nn.Module]) -> torch.nn.Module:
        """One frozen copy of each model per run and role (causal LM, classifier, encoder, ...), however many RMs
        name it; ``load(spec, dtype, device)`` loads it the first time. The key is the configured settings, offloaded
        or not, so RMs that share a model share one copy (and one move) either way."""
        key = (role, spec, dtype, device)
        if key not in self.loaded:
            if self.placement is None or not self.placement.offloads(device):
                self.loaded[key] = load(spec, dtype, device).requires_grad_(False)
            else:
                home = load(spec, self.placement.load_dtype(dtype, device), str(self.placement.home)).requires_grad_(False)
                self.loaded[key] = self.placement.adopt(home, ":".join(key))
        model = self.loaded[key]
        if self.placement is not None and self.placement.holds(model) and all(m is not model for m in self.requested):
            self.requested.append(model)
        return model

    def causal_lm(self, spec: str, config: ModelScorerConfig) -> torch.nn.Module:
        return self.shared_model("causal", spec, config.dtype, config.device, load_causal_lm)

    def tokenizer(self, spec: str):
        key = ("tokenizer", spec)
        if key not in self.loaded:
            self.loaded[key] = load_tokenizer(spec)
        return self.loaded[key]
