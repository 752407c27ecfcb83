"""``noisy``: another RM's scores plus N(0, sigma) noise (paper sec. 5, Figure 3)."""

from __future__ import annotations

import numpy as np

from harness.common.seeding import stable_seed
from harness.rewards.base import RewardModel


class NoisyRM(RewardModel):
    description = "another RM's score plus Gaussian noise N(0, sigma)"

    @classmethod
    def from_config(cls, config, context):
        return cls(config.name, context.pool[config.base], config.sigma, stable_seed(context.seed, config.name))

    @staticmethod
    def depends_on(config):
        return config.base

    def __init__(self, name: str, base: RewardModel, sigma: float, seed: int):
        self.name, self.base, self.sigma = name, base, sigma
        self.needs_references = base.needs_references
        self.rng = np.random.default_rng(seed)

    def score(self, prompts, responses, references=None):
        clean = np.asarray(self.base.score(prompts, responses, references))
        return (clean + self.rng.normal(0.0, self.sigma, size=clean.shape)).tolist()

    def state_dict(self):
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = state["rng"]
