"""The reward-model interface: ``score(prompts, responses, references=None) -> list[float]``, higher is better.

A kind of reward model is one ``RewardModel`` subclass with ``from_config`` (and ``description``) in its own
file plus one line in ``harness.rewards.registry.RM_KINDS``; ``BuildContext`` is what ``from_config``
builds from (one copy of each model however many RMs name it, the task's gold check, the run seed and the
RMs built so far).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from harness.config.schema import RewardModelConfig
from harness.models.loading import load_causal_lm, load_tokenizer


class RewardModel:
    """Scores responses to prompts; higher is better. ``references`` carries gold answers when needed."""

    name: str = ""
    needs_references: bool = False
    description: str = ""
    cacheable: bool = False  # deterministic in (prompt, response): scores may be shared between runs

    @classmethod
    def from_config(cls, config: RewardModelConfig, context: BuildContext) -> RewardModel:
        raise NotImplementedError

    @staticmethod
    def depends_on(config: RewardModelConfig) -> str | None:
        """The name of another RM this one wraps (built first), if any."""
        return None

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              references: Sequence[Any] | None = None) -> list[float]:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


@dataclass
class BuildContext:
    """What reward models are built from: shared model loading, the task's answer check, the run seed,
    and the RMs built so far (for RMs that wrap another)."""

    gold_reward: Callable[[str, Any], float]
    seed: int
    pool: dict[str, RewardModel] = field(default_factory=dict)
    loaded: dict[tuple[str, ...], Any] = field(default_factory=dict)

    def causal_lm(self, spec: str, config: RewardModelConfig) -> torch.nn.Module:
        """One copy of each model, however many RMs name it."""
        key = ("causal", spec, config.dtype, config.device)
        if key not in self.loaded:
            self.loaded[key] = load_causal_lm(spec, config.dtype, config.device).requires_grad_(False)
        return self.loaded[key]

    def tokenizer(self, spec: str):
        key = ("tokenizer", spec)
        if key not in self.loaded:
            self.loaded[key] = load_tokenizer(spec)
        return self.loaded[key]
