"""Thompson sampling bandits: linear (contextual) and Gaussian (non-contextual).

``LinTS`` (Agrawal & Goyal, "Thompson Sampling for Contextual Bandits with Linear Payoffs", ICML 2013), one
disjoint linear model per arm as in LinUCB: theta_k ~ N(A_k^-1 b_k, v^2 A_k^-1), arm = argmax_k c^T theta_k.
With one context c per round and independent arms, c^T theta_k is a scalar Gaussian with mean c^T A_k^-1 b_k
and variance v^2 c^T A_k^-1 c, so drawing that scalar is the same draw as drawing theta_k and projecting it,
and the arms keep LinUCB's Woodbury form: O(n_k d) per step, never a d x d matrix.

``GaussianTS`` (Agrawal & Goyal, "Further Optimal Regret Bounds for Thompson Sampling", AISTATS 2013):
theta_k ~ N(S_k / (n_k + 1), v^2 / (n_k + 1)), with S_k the sum of arm k's n_k rewards; arm = argmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.config.ranges import RANGE, at_least
from harness.selection.bandits.base import Bandit, BanditContext, rng_from_state
from harness.selection.bandits.linucb import WoodburyBandit, _WoodburyArm


@dataclass
class LinTSConfig:
    v: float = field(default=0.5, metadata={"help": "Posterior scale v: theta_k ~ N(mu_k, v^2 A_k^-1).", RANGE: at_least(0)})
    b_init_std: float = field(default=0.01, metadata={"help": "Std of the random initial b_k (as LASeR's LinUCB).",
                                                      RANGE: at_least(0)})


class LinTS(WoodburyBandit):
    """Disjoint linear Thompson sampling; its draws come from its own seeded generator (resumable)."""

    Config = LinTSConfig
    description = "linear Thompson sampling (Agrawal & Goyal 2013) on the batch's prompt embedding, Woodbury form"

    @classmethod
    def from_config(cls, config: LinTSConfig, context: BanditContext) -> LinTS:
        if context.dim is None:
            raise ValueError("LinTS needs the context size")
        return cls(context.num_arms, context.dim, v=config.v, b_init_std=config.b_init_std, seed=context.seed)

    def __init__(self, num_arms: int, dim: int, v: float = 0.5, b_init_std: float = 0.01, seed: int = 0):
        self.v = v
        self._build_arms(num_arms, dim, b_init_std, seed)
        self.rng = np.random.default_rng([seed, 1])  # the draws; apart from b's initialisation

    def sampled_scores(self, context: np.ndarray) -> np.ndarray:
        """One posterior draw of c^T theta_k per arm."""
        x = self._check(context)
        moments = [arm.mean_and_variance(x) for arm in self.arms]
        noise = self.rng.standard_normal(self.num_arms)
        return np.array([mean + self.v * math.sqrt(variance) * z for (mean, variance), z in zip(moments, noise)])

    def select(self, context: np.ndarray | None) -> int:
        return int(np.argmax(self.sampled_scores(context)))

    def state_dict(self) -> dict[str, Any]:
        return {"type": "lints", "v": self.v, "dim": self.dim, "arms": [a.state_dict() for a in self.arms],
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.v, self.dim = state["v"], state["dim"]
        self.arms = [_WoodburyArm.from_state(s) for s in state["arms"]]
        self.num_arms = len(self.arms)
        self.rng = rng_from_state(state["rng"])


@dataclass
class GaussianTSConfig:
    v: float = field(default=1.0, metadata={"help": "Posterior scale: theta_k ~ N(S_k/(n_k+1), v^2/(n_k+1)).",
                                            RANGE: at_least(0)})


class GaussianTS(Bandit):
    """Gaussian Thompson sampling over the arms' mean rewards; no context."""

    Config = GaussianTSConfig
    description = "Gaussian Thompson sampling (Agrawal & Goyal 2013): N(S_k/(n_k+1), v^2/(n_k+1)) per arm; no context"

    @classmethod
    def from_config(cls, config: GaussianTSConfig, context: BanditContext) -> GaussianTS:
        return cls(context.num_arms, v=config.v, seed=context.seed)

    def __init__(self, num_arms: int, v: float = 1.0, seed: int = 0):
        if num_arms < 1:
            raise ValueError(f"Gaussian TS needs num_arms >= 1, got {num_arms}")
        self.num_arms, self.v = num_arms, v
        self.sums = np.zeros(num_arms)
        self.counts = np.zeros(num_arms)
        self.rng = np.random.default_rng(seed)

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """Each arm's posterior mean and standard deviation."""
        return self.sums / (self.counts + 1.0), self.v / np.sqrt(self.counts + 1.0)

    def select(self, context: np.ndarray | None = None) -> int:
        mean, std = self.posterior()
        return int(np.argmax(mean + std * self.rng.standard_normal(self.num_arms)))

    def update(self, arm: int, context: np.ndarray | None, reward: float) -> None:
        self.sums[arm] += float(reward)
        self.counts[arm] += 1.0

    def add_arm(self) -> int:
        self.sums, self.counts = np.append(self.sums, 0.0), np.append(self.counts, 0.0)
        self.num_arms = len(self.sums)
        return self.num_arms - 1

    def reset_arm(self, arm: int) -> None:
        self.sums[arm] = self.counts[arm] = 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"type": "gaussian_ts", "v": self.v, "sums": self.sums.copy(), "counts": self.counts.copy(),
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.v = state["v"]
        self.sums = np.asarray(state["sums"], dtype=np.float64).copy()
        self.counts = np.asarray(state["counts"], dtype=np.float64).copy()
        self.num_arms = len(self.sums)
        self.rng = rng_from_state(state["rng"])
