"""``noisy``: another RM's scores plus N(0, sigma) noise (paper sec. 5, Figure 3)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.common.seeding import stable_seed
from harness.config.errors import unknown_name_message
from harness.config.ranges import RANGE, at_least
from harness.rewards.base import RewardModel


@dataclass
class NoisyConfig:
    base: str = field(metadata={"help": "Name of the RM (of the same pool) whose scores get noise."})
    sigma: float = field(default=0.0, metadata={"help": "Standard deviation of the Gaussian noise.", RANGE: at_least(0)})


class NoisyRM(RewardModel):
    Config = NoisyConfig
    description = "another RM's score plus Gaussian noise N(0, sigma)"

    @classmethod
    def from_config(cls, config, context):
        return cls(context.name, context.pool[config.base], config.sigma, stable_seed(context.seed, context.name))

    @classmethod
    def depends_on(cls, config):
        return config.base

    @classmethod
    def check(cls, name, config, pool):
        if config.base not in pool or config.base == name:
            return f"base: {unknown_name_message('reward model', config.base, [n for n in pool if n != name])}"
        return None

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
