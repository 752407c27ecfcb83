"""LinUCB (paper eq. 2-3): A_k = I + sum c c^T, b_k random at start, theta_k = A_k^-1 b_k and
    arm = argmax_k  c^T theta_k + alpha * sqrt(c^T A_k^-1 c).

A run makes far fewer updates n_k than the context size d (4096 for an 8B policy), so A_k^-1 is kept in
Woodbury form  A_k^-1 = I - C_k^T (I + C_k C_k^T)^-1 C_k  with C_k the (n_k x d) stack of that arm's
contexts. Only the small n_k x n_k inverse is stored and grown by a block (Schur complement) update, so a
select+update costs O(n_k d + n_k^2) instead of inverting a d x d matrix. ``NaiveLinUCB`` is the paper
code's dense per-step inverse, kept as the benchmark's reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.config.ranges import RANGE, at_least
from harness.selection.bandits.base import Bandit, BanditContext


class _WoodburyArm:
    """One LinUCB arm: A = I + C^T C kept as C and M = (I + C C^T)^-1; plus b and C b."""

    def __init__(self, b: np.ndarray, capacity: int = 64):
        self.d = b.shape[0]
        self.b = b.astype(np.float64).copy()
        self.n = 0
        self._C = np.zeros((capacity, self.d))
        self._M = np.zeros((capacity, capacity))
        self._Cb = np.zeros(capacity)

    @property
    def C(self) -> np.ndarray:
        return self._C[: self.n]

    @property
    def M(self) -> np.ndarray:
        return self._M[: self.n, : self.n]

    def mean_and_variance(self, x: np.ndarray) -> tuple[float, float]:
        """x^T theta with theta = A^-1 b, and x^T A^-1 x (clipped at 0)."""
        Cx = self.C @ x
        MCx = self.M @ Cx
        mean = x @ self.b - MCx @ self._Cb[: self.n]
        variance = x @ x - Cx @ MCx
        return float(mean), max(float(variance), 0.0)

    def score(self, x: np.ndarray, alpha: float) -> float:
        """x^T theta + alpha sqrt(x^T A^-1 x)."""
        mean, variance = self.mean_and_variance(x)
        return mean + alpha * math.sqrt(variance)

    def _grow(self) -> None:
        capacity = 2 * self._C.shape[0]
        C, M, Cb = np.zeros((capacity, self.d)), np.zeros((capacity, capacity)), np.zeros(capacity)
        C[: self.n], M[: self.n, : self.n], Cb[: self.n] = self.C, self.M, self._Cb[: self.n]
        self._C, self._M, self._Cb = C, M, Cb

    def update(self, x: np.ndarray, reward: float) -> None:
        n = self.n
        if n == self._C.shape[0]:
            self._grow()
        u = self.C @ x                      # cross terms of the new row with the old ones
        z = self.M @ u
        schur = 1.0 + x @ x - u @ z         # > 0: I + C C^T is positive definite
        M = self._M
        M[:n, :n] += np.outer(z, z) / schur
        M[:n, n] = M[n, :n] = -z / schur
        M[n, n] = 1.0 / schur
        self._Cb[:n] += reward * u          # b <- b + r x changes every C b entry by r * (C x)
        self.b += reward * x
        self._C[n] = x
        self._Cb[n] = x @ self.b
        self.n = n + 1

    def inverse(self) -> np.ndarray:
        """A^-1 as a dense matrix (for tests and inspection; O(d^2))."""
        return np.eye(self.d) - self.C.T @ self.M @ self.C

    def state_dict(self) -> dict[str, Any]:
        return {"b": self.b.copy(), "C": self.C.copy(), "M": self.M.copy(), "Cb": self._Cb[: self.n].copy()}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> "_WoodburyArm":
        C = np.asarray(state["C"], dtype=np.float64)
        arm = cls(np.asarray(state["b"], dtype=np.float64), capacity=max(64, C.shape[0]))
        arm.n = C.shape[0]
        arm._C[: arm.n] = C
        arm._M[: arm.n, : arm.n] = np.asarray(state["M"], dtype=np.float64)
        arm._Cb[: arm.n] = np.asarray(state["Cb"], dtype=np.float64)
        return arm


@dataclass
class LinUCBConfig:
    alpha: float = field(default=0.5, metadata={"help": "LinUCB exploration (review discussion: 0.4-0.6 best).",
                                                RANGE: at_least(0)})
    b_init_std: float = field(default=0.01, metadata={"help": "Std of the random initial b_k.", RANGE: at_least(0)})


class WoodburyBandit(Bandit):
    """Disjoint linear bandits on a context: one Woodbury-form arm per RM, b_k drawn from N(0, b_init_std^2)."""

    needs_context = True

    def _build_arms(self, num_arms: int, dim: int, b_init_std: float, seed: int) -> None:
        if num_arms < 1 or dim < 1:
            raise ValueError(f"{type(self).__name__} needs num_arms >= 1 and dim >= 1, got {num_arms}, {dim}")
        self.num_arms, self.dim = num_arms, dim
        rng = np.random.default_rng(seed)
        self.arms = [_WoodburyArm(rng.normal(0.0, b_init_std, size=dim)) for _ in range(num_arms)]

    def _check(self, context: np.ndarray | None) -> np.ndarray:
        if context is None:
            raise ValueError(f"{type(self).__name__} needs a context vector")
        x = np.asarray(context, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.dim:
            raise ValueError(f"context has dimension {x.shape[0]}, {type(self).__name__} was built for {self.dim}")
        return x

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        self.arms[arm].update(self._check(context), float(reward))

    def add_arm(self) -> int:
        """A new arm with A = I and b = 0 (review discussion); the other arms keep their statistics."""
        self.arms.append(_WoodburyArm(np.zeros(self.dim)))
        self.num_arms = len(self.arms)
        return self.num_arms - 1

    def reset_arm(self, arm: int) -> None:
        """Arm ``arm`` back to A = I and b = 0."""
        self.arms[arm] = _WoodburyArm(np.zeros(self.dim))


class LinUCB(WoodburyBandit):
    """Disjoint LinUCB with A_k = I, random b_k, exploration ``alpha``; ties go to the lowest index."""

    Config = LinUCBConfig
    description = "disjoint LinUCB on the batch's prompt embedding (paper eq. 2-3), Woodbury-form inverses"

    @classmethod
    def from_config(cls, config: LinUCBConfig, context: BanditContext) -> LinUCB:
        if context.dim is None:
            raise ValueError("LinUCB needs the context size")
        return cls(context.num_arms, context.dim, alpha=config.alpha, b_init_std=config.b_init_std, seed=context.seed)

    def __init__(self, num_arms: int, dim: int, alpha: float = 0.5, b_init_std: float = 0.01, seed: int = 0):
        self.alpha = alpha
        self._build_arms(num_arms, dim, b_init_std, seed)

    def scores(self, context: np.ndarray) -> np.ndarray:
        x = self._check(context)
        return np.array([arm.score(x, self.alpha) for arm in self.arms])

    def select(self, context: np.ndarray | None) -> int:
        return int(np.argmax(self.scores(context)))

    def state_dict(self) -> dict[str, Any]:
        return {"type": "linucb", "alpha": self.alpha, "dim": self.dim, "arms": [a.state_dict() for a in self.arms]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.alpha, self.dim = state["alpha"], state["dim"]
        self.arms = [_WoodburyArm.from_state(s) for s in state["arms"]]
        self.num_arms = len(self.arms)


class NaiveLinUCB(LinUCB):
    """The paper code's LinUCB: a dense d x d A_k inverted at every step (benchmark reference only)."""

    def __init__(self, num_arms: int, dim: int, alpha: float = 0.5, b_init_std: float = 0.01, seed: int = 0):
        super().__init__(num_arms, dim, alpha, b_init_std, seed)
        self.A = [np.eye(dim) for _ in range(num_arms)]
        self.b = [arm.b.copy() for arm in self.arms]

    def scores(self, context: np.ndarray) -> np.ndarray:
        x = self._check(context)
        out = []
        for A, b in zip(self.A, self.b):
            A_inv = np.linalg.inv(A)
            out.append(x @ (A_inv @ b) + self.alpha * math.sqrt(x @ A_inv @ x))
        return np.array(out)

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        x = self._check(context)
        self.A[arm] += np.outer(x, x)
        self.b[arm] += reward * x
