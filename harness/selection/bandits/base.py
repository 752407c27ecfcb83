"""The interface shared by the bandits: choose an arm for a context, learn from its reward, save and restore."""

from __future__ import annotations

from typing import Any

import numpy as np


class Bandit:
    """Interface shared by the bandits: choose an arm for a context, learn from its reward."""

    num_arms: int

    def select(self, context: np.ndarray | None) -> int:
        raise NotImplementedError

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError


def rng_from_state(state: dict[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = state
    return rng
