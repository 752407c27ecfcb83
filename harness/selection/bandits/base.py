"""The interface shared by the bandits: choose an arm for a context, learn from its reward, save and restore.

A bandit is one ``Bandit`` subclass with a dataclass ``Config`` (its hyper-parameters) and
``from_config(config, context)`` (a ``BanditContext``: its arms, context size and seed), plus one line in
``harness.selection.bandits.registry.BANDITS``; ``state_dict()["type"]`` names its entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from harness.config.registry import NoArgs


@dataclass(frozen=True)
class BanditContext:
    """What a bandit is built from besides its hyper-parameters."""

    num_arms: int
    dim: int | None = None   # the context size (contextual bandits, which know it at the first context)
    seed: int = 0


class Bandit:
    """Interface shared by the bandits: choose an arm for a context, learn from its reward."""

    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""
    needs_context: ClassVar[bool] = False   # contextual: built at the first context, whose size it learns
    num_arms: int

    @classmethod
    def from_config(cls, config: Any, context: BanditContext) -> Bandit:
        """A fresh bandit over ``context.num_arms`` arms."""
        raise NotImplementedError

    def select(self, context: np.ndarray | None) -> int:
        raise NotImplementedError

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        raise NotImplementedError

    def add_arm(self) -> int:
        """A new arm with fresh statistics (the others keep theirs); returns its index (review discussion:
        an RM added to the pool mid-training)."""
        raise NotImplementedError(f"{type(self).__name__} cannot add an arm")

    def reset_arm(self, arm: int) -> None:
        """Forget everything arm ``arm`` has learnt (review discussion: an updated RM is re-learnt)."""
        raise NotImplementedError(f"{type(self).__name__} cannot reset an arm")

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng
