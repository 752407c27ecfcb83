"""Reward-model selection methods by name (``method.name``): LASeR, the per-prompt router and the baselines
(``baselines/``)."""

from __future__ import annotations

from typing import Any, Sequence

from harness.config.parse import from_dict
from harness.config.registry import Registry
from harness.selection.method import Method

METHODS: Registry[type[Method]] = Registry("method", {
    "laser": "harness.selection.laser:Laser",
    "prompt_router": "harness.selection.router:PromptRouter",
    "single_rm": "baselines.single_rm:SingleRM",
    "random_rm": "baselines.random_rm:RandomRM",
    "sequential_rm": "baselines.sequential_rm:SequentialRM",
    "offline_ensemble": "baselines.offline_ensemble:OfflineEnsemble",
    "agreement_ensemble": "baselines.agreement_ensemble:AgreementEnsemble",
    "correctness": "baselines.correctness:Correctness",
    "base": "baselines.base_model:BaseModel",
    "sft": "baselines.sft:SFT",
    "oracle_rm": "baselines.oracle_rm:OracleRM",
}, base=Method, entry_point_group="harness.methods")


def build_method(name: str, args: dict[str, Any], reward_models: Sequence[str], seed: int, best_rm: str = "",
                 profile: dict[str, Any] | None = None) -> Method:
    cls = METHODS.get(name)
    config = from_dict(cls.Config, args, prefix="method.args")
    method = cls(config, reward_models, seed, best_rm, profile)
    method.validate()
    return method
