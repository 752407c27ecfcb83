"""The method interface: choose the reward for each batch, receive feedback after the step; nothing else.

A method sees a ``BatchContext`` (iteration, step, prompts, and the mean prompt embedding when it asks
for one) and returns a ``RewardChoice``: which reward models score this batch and how their scores combine.
After the training step it gets ``StepFeedback`` (the step's training loss, pairs made, and each prompt's
share of them; the samples' gold accuracy and the reward's spread when it declares that it needs them). Its arguments are a dataclass ``Config`` parsed strictly from the run config's ``method.args``;
what it gets besides them is a ``MethodContext`` (the run's RM names, seed, best RM and profile); its whole
state round-trips through ``state_dict``/``load_state_dict``.

What a method needs from the run, and how the report shows its runs, is one ``Declaration`` (``declared``):
the loop, the run-config checks (``Method.check``), the memory plan and the run's reporting record read it,
and nothing else about a method. A method that routes prompts (``routes_prompts``) chooses per prompt
instead: ``route`` returns one ``RewardChoice`` per prompt (the context then carries each prompt's embedding
and category) and ``route_feedback`` gets the same feedback; the batch still trains as one step. A method that
trains on demonstrations (SFT) chooses no reward: the loop fine-tunes the policy on the task's human-written
responses instead (``harness.loop.supervised``).

How to add a method: one file in ``baselines/`` and one line in ``METHODS``
(``harness.selection.registry``), or a class in your own file named as ``module:Class``; see
``harness.config.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Mapping, Sequence

import numpy as np

from harness.config.errors import ConfigError, unknown_name_message
from harness.config.registry import NoArgs
from harness.config.schema import RunConfig
from harness.selection.combiners import COMBINERS, Combiner


@dataclass
class BatchContext:
    iteration: int                    # 1-based training iteration m
    step: int                         # 0-based global step t across iterations
    batch_index: int                  # 0-based step within the iteration
    num_steps: int                    # steps in this iteration
    prompts: list[str]
    embedding: np.ndarray | None = None
    category: str | None = None                       # the batch's category when all its prompts share one
    prompt_embeddings: np.ndarray | None = None       # (prompts x d), for a method that routes prompts and needs context
    categories: list[str | None] = field(default_factory=list)  # each prompt's category


@dataclass(frozen=True)
class RewardChoice:
    reward_models: tuple[str, ...]
    combine: str = "single"   # a name in harness.selection.combiners.COMBINERS
    combine_args: Mapping[str, Any] = field(default_factory=dict)  # the combiner's settings (its Config)

    def __post_init__(self):
        if not self.reward_models:
            raise ValueError("a RewardChoice needs at least one reward model")
        check_combiner(self.combine, self.combine_args, len(self.reward_models))

    def combiner(self) -> Combiner:
        return COMBINERS.get(self.combine)(COMBINERS.parse(self.combine, dict(self.combine_args), prefix="combine_args"))

    @property
    def label(self) -> str:
        return self.reward_models[0] if self.combine == "single" else f"{self.combine}({'+'.join(self.reward_models)})"


ROLES = ("", "start", "gold", "oracle")


@dataclass(frozen=True)
class Reporting:
    """How the report shows a method's runs (written into each run's ``config.json`` when it starts, by
    ``harness.selection.reporting``; the report reads that record and imports no method)."""

    row: str = ""                  # its row in the tables under its own name ('': the sweep label)
    variant_row: str = "{label}"   # its row under another sweep label ({label} is filled in)
    short: str = ""                # in 'A vs. B' comparison titles ('': the row)
    rank: int = 90                 # rows sort by rank, then name: the start 0, paper baselines 10-80, LASeR 100
    fixed_choice: bool = False     # True: the same reward for every batch (no selection to show or rate)
    role: str = ""                 # the testbed's calibration rows: 'start' (the starting policy), 'gold'
                                   # (the gold-answer reward), 'oracle' (the profile's best RM per category)

    def __post_init__(self):
        if self.role not in ROLES:
            raise ValueError(f"Reporting.role: expected one of {ROLES}, got {self.role!r}")


@dataclass(frozen=True)
class Declaration:
    """What a method needs from the run and how the report shows its runs: a class's ``declared``. What depends
    on the method's settings (LASeR's bandit needs context or not, ...) its ``__init__`` sets on the instance with
    ``dataclasses.replace(self.declared, ...)``, so a built method's ``declared`` is its run's."""

    trains_on: Literal["preferences", "demonstrations", "nothing"] = "preferences"  # preferences: pairs labelled
                                   # by the RM(s) it chooses; demonstrations: supervised fine-tuning on the task's
                                   # human-written responses (SFT), no reward at all; nothing: the run only
                                   # evaluates the initial policy (the Base row)
    routes_prompts: bool = False   # ``route`` chooses a reward per prompt (``select`` is not called)
    needs_context: bool = False    # the prompts' embeddings in the BatchContext
    needs_gold: bool = False       # its reward needs gold answers (refused on open-ended tasks)
    needs_profile: bool = False    # it chooses from the run's profile (the run config needs ``profile:``)
    accuracy_after: bool = False   # the loop samples the batch's prompts again after the update and reports the
                                   # mean gold score of those samples as ``StepFeedback.accuracy_after``
    reward_spread: bool = False    # the loop reports how much the batch's reward varies among each prompt's samples
                                   # as ``StepFeedback.reward_spread`` (``harness.loop.reward_spread``; no gold)
    fixed_rm: str = ""             # the one reward model every batch uses: the report's single-RM rows
                                   # ("RM: <name>"), from which it derives "Best RM" (the run's best_rm) and "Avg. RM"
    report: Reporting = Reporting()

    @property
    def trains(self) -> bool:
        return self.trains_on != "nothing"


@dataclass(frozen=True)
class MethodContext:
    """What a method gets besides its own settings."""

    reward_models: Sequence[str] = ()       # the names of the run's RM pool
    seed: int = 0
    best_rm: str = ""                       # the leaderboard's best RM (the run config's ``best_rm``)
    profile: dict[str, Any] | None = None   # the run's on-policy RM competence (harness.profile), when it has one

    @classmethod
    def of_run(cls, config: RunConfig, profile: dict[str, Any] | None = None) -> MethodContext:
        return cls(tuple(rm.name for rm in config.reward_models), config.seed, config.best_rm, profile)


@dataclass
class StepFeedback:
    loss: float | None                # None when the batch gave no preference pair (no training step)
    num_pairs: int
    skipped_prompts: int
    prompt_losses: list[float | None] = field(default_factory=list)  # per prompt: mean loss of its pairs (None: none)
    prompt_pairs: list[int] = field(default_factory=list)            # per prompt: pairs it made
    sample_accuracy: float | None = None   # mean gold score of the step's samples (None: the task has no gold)
    accuracy_after: float | None = None    # the same on fresh samples after the update (``Declaration.accuracy_after``)
    reward_spread: float | None = None     # the reward's scale-free spread within prompts (``Declaration.reward_spread``)


class Method:
    """Base class of reward-model selection methods."""

    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""
    declared: Declaration = Declaration()

    def __init__(self, config: Any, context: MethodContext):
        self.config = config
        self.context = context
        self.reward_models = list(context.reward_models)
        self.seed = context.seed
        self.best_rm = context.best_rm
        self.profile = context.profile

    @classmethod
    def from_config(cls, config: Any, context: MethodContext) -> Method:
        """The method of these settings, its arguments checked against the pool (``validate``)."""
        method = cls(config, context)
        method.validate()
        return method

    def check(self, run: RunConfig, task_kind: str) -> str | None:
        """What keeps this method from taking part in ``run`` on a task of ``task_kind`` (None: nothing); the
        run-config check prefixes ``method.name: '<name>'``. The default asks the declaration."""
        declared = self.declared
        if declared.needs_profile and run.profile is None:
            return "chooses from the run's RM profile; add a 'profile:' section (e.g. profile: {max_prompts: 64})"
        if declared.trains_on == "demonstrations" and run.mode == "best_of_n":
            return "fine-tunes the policy on demonstrations; best_of_n mode never trains the policy (use mode: train)"
        if declared.routes_prompts and run.mode == "best_of_n":
            return ("routes each prompt to a reward model while training; best_of_n mode reranks test batches with "
                    "one frozen choice each (use a per-batch method)")
        if declared.needs_gold and task_kind == "open_ended":
            return f"needs gold answers; {run.task.name!r} has none"
        return None

    def select(self, context: BatchContext) -> RewardChoice:
        raise NotImplementedError

    def feedback(self, context: BatchContext, choice: RewardChoice, feedback: StepFeedback) -> None:
        """Learn from the step's outcome (default: nothing to learn)."""

    def route(self, context: BatchContext) -> list[RewardChoice]:
        """One reward per prompt of the batch (methods that declare ``routes_prompts``)."""
        raise NotImplementedError

    def route_feedback(self, context: BatchContext, choices: list[RewardChoice], feedback: StepFeedback) -> None:
        """Learn from the step's outcome, prompt by prompt (``feedback.prompt_losses``)."""

    def route_records(self) -> list[dict[str, Any]]:
        """Extra facts per prompt of the last step for its ``routes`` in the selections log."""
        return []

    def step_record(self) -> dict[str, Any]:
        """Extra facts about the last step for the selections log (e.g. the scaled MAB reward)."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def validate(self) -> None:
        """Raise ConfigError for arguments that contradict the reward-model pool (before any compute)."""


def check_combiner(name: str, args: Mapping[str, Any], num_reward_models: int, key: str = "combine") -> None:
    """A ConfigError naming ``key`` for an unknown combiner, settings its Config refuses, or ``single`` over
    several reward models."""
    try:
        COMBINERS.check(name)
    except ConfigError as error:
        raise ConfigError(f"{key}: {error}") from None
    COMBINERS.parse(name, dict(args), prefix=f"{key}_args")
    if name == "single" and num_reward_models != 1:
        raise ConfigError(f"{key}: 'single' takes one reward model, got {num_reward_models}")


def check_reward_model(key: str, name: str, reward_models: Sequence[str]) -> None:
    if name not in reward_models:
        raise ConfigError(f"{key}: {unknown_name_message('reward model', name, reward_models)}")
