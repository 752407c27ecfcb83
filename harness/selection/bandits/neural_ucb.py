"""NeuralUCB (Zhou, Li & Gu, "Neural Contextual Bandits with UCB-based Exploration", ICML 2020, Algorithm 1).

As the paper defines it, for a network of width m (``width``) with parameters theta (W1: m x d, w: m, no biases):

    f(x; theta) = sqrt(m) w . relu(W1 x),        g(x; theta) = grad_theta f(x; theta)
    U_a = f(x; theta_{t-1}) + nu * sqrt(g^T Z_{t-1}^-1 g / m),   Z_0 = lambda I,
    Z_t = Z_{t-1} + g g^T / m   (g of the played arm at theta_{t-1}),
    theta_t = J (``epochs``) gradient-descent steps from theta_0 on
              sum_i (f(x_i; theta) - r_i)^2 / 2 + m lambda |theta - theta_0|^2 / 2.

Initialisation: W1 = [V; V] and w = [u; -u] with V, u ~ N(0, 2/m), so that the two halves of the hidden units
mirror each other and f(x; theta_0) = 0. This is the paper's symmetric initialisation (W_l = diag(W, W) with
W ~ N(0, 4/m), w_L = (u, -u) with u ~ N(0, 2/m)) on its input [x; x]/sqrt(2), written on x itself: the same
function, the same gradient inner products and the same gradient-descent path. ||g||^2 is about 2 m |x|^2 at
the start, so the first bonus of every arm is about nu sqrt(2/lambda) |x| (LASeR's context is a unit vector).

Z is the full design over all parameters (not the diagonal that the paper's experiments used for speed: for a
d-dimensional context each W1 entry of g g^T / m is O(1/(m d)), so the diagonal hardly shrinks that part of the
bonus and played and unplayed arms keep nearly the same one). With the arm's n plays stacked as G (n x p),
Z^-1 = (I - G^T (m lambda I + G G^T)^-1 G) / lambda, and since g = sqrt(m) [a x^T, h] (a = w * [W1 x > 0],
h = relu(W1 x)), g_s . g / m = (a_s . a)(x_s . x) + h_s . h. Only a_s, h_s, x_s and M = (lambda I + K)^-1
(K the n x n matrix of those products, grown by a Schur complement as in LinUCB) are kept, so a bonus costs
O(n (m + d) + n^2) however large d is, and a refit O(J n m d).

The project's choices:
- Arms are disjoint: each arm has its own network, theta_0 and Z on the shared context (LASeR's batch prompt
  embedding). This is the paper's algorithm for one block-diagonal network f(x, a) = f_a(x): its gradient, Z and
  loss split by arm, so an added or reset arm (``add_arm``/``reset_arm``) is a fresh block.
- nu is a constant in place of the theory's gamma_t, as in the paper's experiments. Default 1.5: rewards are in
  [0, 1], and for a repeated context an arm played n times shows about r 2n/(2n+1) + nu sqrt(2/(2n+1)) against
  an untried arm's nu sqrt(2); nu > 1.13 makes an untried arm outrank one that paid the top reward 1 once, and
  1.5 leaves room for the spread of |g| between random initialisations. With 4 arms paying 0.3 (the first
  played) and 0.6-0.8, 47 of 60 seeds try all 4 in the first 4 rounds and all 60 within 10, and the 0.3 arm
  is left (tests/selection/test_neural_ucb.py). A smaller nu exploits sooner but may leave an arm with a small
  initial |g| untried for long (nu = 1: 80 % of those seeds try all 4 arms within 10 rounds).
- Default width m = 100 (the authors' code's): at m = 32 the initial |g|^2 / m of a unit context varies between
  arms from 0.7 to 3.6 (5-95 %), at m = 100 from 1.3 to 2.7.
- The step size: eta = C / (m lambda + sum_i |g(x_i; theta_0)|^2) with C = ``learning_rate`` (the paper's
  eta = C (m lambda + m n L)^-1, the measured gradients in place of n L); C < 2 is stable for the linearised
  loss, and C = 1 fits a repeated context in one step. Defaults lambda = 1, C = 1, J = 20.
The arithmetic is numpy float64 written out by hand, so the same seed gives the same choices everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.config.errors import ConfigError
from harness.config.ranges import RANGE, at_least, positive
from harness.selection.bandits.base import Bandit, BanditContext, rng_from_state


@dataclass
class NeuralUCBConfig:
    nu: float = field(default=1.5, metadata={"help": "Exploration scale nu (the paper's gamma_t held fixed); the first "
                                                     "bonus is about nu sqrt(2/lambda) for a unit context.",
                                             RANGE: at_least(0)})
    width: int = field(default=100, metadata={"help": "Hidden width m of each arm's network (even: mirrored halves).",
                                              RANGE: at_least(2)})
    reg: float = field(default=1.0, metadata={"help": "lambda: Z_0 = lambda I, and m lambda pulls theta towards theta_0.",
                                              RANGE: positive()})
    learning_rate: float = field(default=1.0, metadata={
        "help": "C in the step size C / (m lambda + sum_i |g(x_i; theta_0)|^2) of the refit (below 2).", RANGE: positive()})
    epochs: int = field(default=20, metadata={"help": "J: gradient steps of the refit from theta_0 after each reward.",
                                              RANGE: at_least(0)})

    def __post_init__(self):
        if self.width >= 2 and self.width % 2:  # below 2: the declared range says so
            raise ConfigError(f"width: expected an even width >= 2 (the network's mirrored halves), got {self.width}")


_WEIGHTS = ("W1", "w2", "W1_0", "w2_0")
_DESIGN = ("A", "H", "M")


class _NeuralArm:
    """One arm: its network (W1: m x d, w2: m) and theta_0, its plays, and Z kept as the plays' gradient factors."""

    def __init__(self, dim: int, width: int, rng: np.random.Generator):
        half = width // 2
        top = rng.normal(0.0, math.sqrt(2.0 / width), size=(half, dim))
        out = rng.normal(0.0, math.sqrt(2.0 / width), size=half)
        self.W1, self.w2 = np.concatenate([top, top]), np.concatenate([out, -out])
        self.W1_0, self.w2_0 = self.W1.copy(), self.w2.copy()
        self.width = width
        self.A, self.H = np.zeros((0, width)), np.zeros((0, width))   # a_s and h_s of each play's gradient
        self.M = np.zeros((0, 0))                                     # (lambda I + K)^-1
        self.X = np.zeros((0, dim))                                   # the contexts played
        self.rewards: list[float] = []

    def _parts(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """f(x) and the factors of its gradient: g_W1 = sqrt(m) a x^T, g_w2 = sqrt(m) h."""
        pre = self.W1 @ x
        hidden = np.maximum(pre, 0.0)
        return math.sqrt(self.width) * float(self.w2 @ hidden), self.w2 * (pre > 0), hidden

    def value_and_gradient(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """f(x) and its gradients with respect to W1 and w2."""
        value, a, h = self._parts(x)
        root = math.sqrt(self.width)
        return value, root * np.outer(a, x), root * h

    def _kernel(self, a: np.ndarray, h: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, float]:
        """g_s . g / m for the plays s, and g . g / m."""
        return (self.A @ a) * (self.X @ x) + self.H @ h, float((a @ a) * (x @ x) + h @ h)

    def score(self, x: np.ndarray, nu: float, reg: float) -> float:
        value, a, h = self._parts(x)
        u, k = self._kernel(a, h, x)
        variance = (k - u @ self.M @ u) / reg   # g^T Z^-1 g / m
        return value + nu * math.sqrt(max(variance, 0.0))

    def update(self, x: np.ndarray, reward: float, reg: float, learning_rate: float, epochs: int) -> None:
        _, a, h = self._parts(x)          # g at theta_{t-1} joins Z
        u, k = self._kernel(a, h, x)
        z = self.M @ u
        schur = reg + k - u @ z           # >= lambda: lambda I + K is positive definite
        n = len(self.rewards)
        M = np.empty((n + 1, n + 1))
        M[:n, :n] = self.M + np.outer(z, z) / schur
        M[:n, n] = M[n, :n] = -z / schur
        M[n, n] = 1.0 / schur
        self.M, self.A, self.H, self.X = M, np.vstack([self.A, a]), np.vstack([self.H, h]), np.vstack([self.X, x])
        self.rewards.append(float(reward))
        self._train(reg, learning_rate, epochs)

    def _train(self, reg: float, learning_rate: float, epochs: int) -> None:
        """TrainNN: ``epochs`` full-batch gradient steps from theta_0."""
        X, r = self.X, np.asarray(self.rewards)
        m, root = self.width, math.sqrt(self.width)
        self.W1, self.w2 = self.W1_0.copy(), self.w2_0.copy()
        step = None
        for _ in range(epochs):
            pre = X @ self.W1.T                   # n x m
            hidden = np.maximum(pre, 0.0)
            active = (pre > 0) * self.w2          # the a_i
            if step is None:                      # |g(x_i; theta_0)|^2 = m (|a_i|^2 |x_i|^2 + |h_i|^2)
                norms = np.sum(active ** 2, axis=1) * np.sum(X ** 2, axis=1) + np.sum(hidden ** 2, axis=1)
                step = learning_rate / (m * reg + m * float(np.sum(norms)))
            residual = root * (hidden @ self.w2) - r
            grad_w2 = root * (hidden.T @ residual) + m * reg * (self.w2 - self.w2_0)
            grad_W1 = root * ((residual[:, None] * active).T @ X) + m * reg * (self.W1 - self.W1_0)
            self.w2 = self.w2 - step * grad_w2
            self.W1 = self.W1 - step * grad_W1

    def state_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name).copy() for name in _WEIGHTS + _DESIGN} | {
            "contexts": self.X.copy(), "rewards": list(self.rewards)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "M" not in state:
            raise ValueError("this NeuralUCB state was saved by the earlier diagonal NeuralUCB and cannot be resumed")
        for name in _WEIGHTS + _DESIGN:
            setattr(self, name, np.asarray(state[name], dtype=np.float64).copy())
        self.width = self.w2.shape[0]
        self.A, self.H = self.A.reshape(-1, self.width), self.H.reshape(-1, self.width)
        self.M = self.M.reshape(self.A.shape[0], self.A.shape[0])
        self.X = np.asarray(state["contexts"], dtype=np.float64).reshape(self.A.shape[0], self.W1.shape[1])
        self.rewards = [float(r) for r in state["rewards"]]


class NeuralUCB(Bandit):
    """Disjoint NeuralUCB with the full design; arms can be added or reset (fresh network, empty history)."""

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
        return _NeuralArm(self.dim, self.config.width, self.rng)

    def _check(self, context: np.ndarray | None) -> np.ndarray:
        if context is None:
            raise ValueError("NeuralUCB needs a context vector")
        x = np.asarray(context, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.dim:
            raise ValueError(f"context has dimension {x.shape[0]}, NeuralUCB was built for {self.dim}")
        return x

    def scores(self, context: np.ndarray) -> np.ndarray:
        x = self._check(context)
        return np.array([arm.score(x, self.config.nu, self.config.reg) for arm in self.arms])

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
