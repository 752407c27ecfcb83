"""NeuralUCB (Zhou, Li & Gu, "Neural Contextual Bandits with UCB-based Exploration", ICML 2020), disjoint arms.

Each arm k has its own one-hidden-layer ReLU network f_k(x) = w2 . relu(W1 x) of width m (the paper's
symmetric initialisation: the two halves of the hidden units mirror each other, so f_k = 0 at the start) and its own
diagonal design Z_k = lambda + sum g g^T / m (the diagonal approximation of the paper's experiments and of
its reference code), with g the gradient of f_k at the chosen context. The arm played is

    argmax_k  f_k(x) + nu * sqrt(sum_j g_j^2 / (m Z_kj)),

and after each reward the played arm's network is fitted by ``epochs`` full-batch gradient steps (size
learning_rate / (n max(1, mean |x|^2)), so that an un-normalised context cannot diverge) on its own n observations with loss  sum (f(x_i) - r_i)^2 / 2 + lambda ||W - W0||^2 / 2
(the paper's objective, its m lambda written as one lambda).
The gradients are written out by hand (numpy, float64), so a step is O(m d) and runs the same everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.config.ranges import RANGE, at_least, positive
from harness.selection.bandits.base import Bandit, BanditContext, rng_from_state


@dataclass
class NeuralUCBConfig:
    nu: float = field(default=0.1, metadata={"help": "Exploration scale nu (the paper's gamma_t held fixed).",
                                             RANGE: at_least(0)})
    width: int = field(default=32, metadata={"help": "Hidden width m of each arm's network.", RANGE: at_least(1)})
    reg: float = field(default=1.0, metadata={"help": "lambda: design regulariser and pull towards the initial weights.",
                                              RANGE: positive()})
    learning_rate: float = field(default=0.01, metadata={"help": "Gradient step size of the refit after each reward.",
                                                         RANGE: positive()})
    epochs: int = field(default=20, metadata={"help": "Full-batch gradient steps of the played arm's refit.",
                                              RANGE: at_least(0)})


class _NeuralArm:
    """One arm: network weights (W1: m x d, w2: m), their initial values, the diagonal design and the history."""

    def __init__(self, dim: int, width: int, reg: float, rng: np.random.Generator):
        half = width // 2 if width > 1 else 1
        top = rng.normal(0.0, math.sqrt(2.0 / dim), size=(half, dim))   # He init, mirrored: f = 0 at the start
        out = rng.normal(0.0, math.sqrt(1.0 / half), size=half)
        self.W1 = np.concatenate([top, top])[:width] if width > 1 else top
        self.w2 = np.concatenate([out, -out])[:width] if width > 1 else out
        self.W1_0, self.w2_0 = self.W1.copy(), self.w2.copy()
        self.width = width
        self.Z1 = np.full(self.W1.shape, reg)
        self.Z2 = np.full(self.w2.shape, reg)
        self.contexts: list[np.ndarray] = []
        self.rewards: list[float] = []

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """f(x) and its gradients with respect to W1 and w2."""
        pre = self.W1 @ x
        hidden = np.maximum(pre, 0.0)
        value = float(self.w2 @ hidden)
        grad_w2 = hidden
        grad_W1 = np.outer(self.w2 * (pre > 0), x)
        return value, grad_W1, grad_w2

    def score(self, x: np.ndarray, nu: float) -> float:
        value, g1, g2 = self.value_and_gradient(x)
        bonus = (np.sum(g1 * g1 / self.Z1) + np.sum(g2 * g2 / self.Z2)) / self.width
        return value + nu * math.sqrt(max(float(bonus), 0.0))

    def update(self, x: np.ndarray, reward: float, reg: float, learning_rate: float, epochs: int) -> None:
        _, g1, g2 = self.value_and_gradient(x)
        self.Z1 += g1 * g1 / self.width
        self.Z2 += g2 * g2 / self.width
        self.contexts.append(x.copy())
        self.rewards.append(float(reward))
        X, r = np.stack(self.contexts), np.asarray(self.rewards)
        size = float(np.mean(np.sum(X * X, axis=1)))  # steps shrink with |x|^2, so a long context cannot diverge
        for _ in range(epochs):
            pre = X @ self.W1.T                    # n x m
            hidden = np.maximum(pre, 0.0)
            residual = hidden @ self.w2 - r        # n
            grad_w2 = hidden.T @ residual + reg * (self.w2 - self.w2_0)
            grad_W1 = ((residual[:, None] * (pre > 0)) * self.w2).T @ X + reg * (self.W1 - self.W1_0)
            scale = learning_rate / (len(r) * max(1.0, size))
            self.w2 -= scale * grad_w2
            self.W1 -= scale * grad_W1

    def state_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).copy() for name in ("W1", "w2", "W1_0", "w2_0", "Z1", "Z2")} | {
            "contexts": np.stack(self.contexts) if self.contexts else np.zeros((0, self.W1.shape[1])),
            "rewards": list(self.rewards)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("W1", "w2", "W1_0", "w2_0", "Z1", "Z2"):
            setattr(self, name, np.asarray(state[name], dtype=np.float64).copy())
        self.width = self.w2.shape[0]
        self.contexts = [np.asarray(row, dtype=np.float64) for row in np.asarray(state["contexts"], dtype=np.float64)]
        self.rewards = [float(r) for r in state["rewards"]]


class NeuralUCB(Bandit):
    """Disjoint NeuralUCB with a diagonal design; arms can be added or reset (fresh network, empty history)."""

    Config = NeuralUCBConfig
    description = "NeuralUCB (Zhou et al. 2020) on the batch's prompt embedding: one small ReLU network per arm"
    needs_context = True

    @classmethod
    def from_config(cls, config: NeuralUCBConfig, context: BanditContext) -> NeuralUCB:
        if context.dim is None:
            raise ValueError("NeuralUCB needs the context size")
        return cls(context.num_arms, context.dim, config, context.seed)

    def __init__(self, num_arms: int, dim: int, config: NeuralUCBConfig | None = None, seed: int = 0):
        if num_arms < 1 or dim < 1:
            raise ValueError(f"NeuralUCB needs num_arms >= 1 and dim >= 1, got {num_arms}, {dim}")
        self.config = config or NeuralUCBConfig()
        self.dim = dim
        self.rng = np.random.default_rng(seed)
        self.arms = [self._new_arm() for _ in range(num_arms)]
        self.num_arms = num_arms

    def _new_arm(self) -> _NeuralArm:
        return _NeuralArm(self.dim, self.config.width, self.config.reg, self.rng)

    def _check(self, context: np.ndarray | None) -> np.ndarray:
        if context is None:
            raise ValueError("NeuralUCB needs a context vector")
        x = np.asarray(context, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.dim:
            raise ValueError(f"context has dimension {x.shape[0]}, NeuralUCB was built for {self.dim}")
        return x

    def scores(self, context: np.ndarray) -> np.ndarray:
        x = self._check(context)
        return np.array([arm.score(x, self.config.nu) for arm in self.arms])

    def select(self, context: np.ndarray | None) -> int:
        return int(np.argmax(self.scores(context)))

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        cfg = self.config
        self.arms[arm].update(self._check(context), float(reward), cfg.reg, cfg.learning_rate, cfg.epochs)

    def add_arm(self) -> int:
        self.arms.append(self._new_arm())
        self.num_arms = len(self.arms)
        return self.num_arms - 1

    def reset_arm(self, arm: int) -> None:
        self.arms[arm] = self._new_arm()

    def state_dict(self) -> dict[str, Any]:
        return {"type": "neural_ucb", "dim": self.dim, "arms": [a.state_dict() for a in self.arms],
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.dim = state["dim"]
        self.rng = rng_from_state(state["rng"])
        self.arms = []
        for saved in state["arms"]:
            arm = _NeuralArm.__new__(_NeuralArm)
            arm.load_state_dict(saved)
            self.arms.append(arm)
        self.num_arms = len(self.arms)
