"""Reward-model selection methods by name (``method.name``): LASeR, the per-prompt router and the baselines
(``baselines/``). Each is built as ``METHODS.build(name, args, MethodContext(...))``: its ``Config`` parsed
strictly from ``method.args``, then ``Method.from_config(config, context)``."""

from __future__ import annotations

from typing import Any

from harness.config.registry import Registry
from harness.selection.method import Method, MethodContext

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
}, base=Method, entry_point_group="harness.methods", context=MethodContext)


def build_method(name: str, args: dict[str, Any], context: MethodContext) -> Method:
    """``METHODS.build`` with errors naming the run config's keys (``method.args.<key>``)."""
    return METHODS.build(name, args, context, prefix="method.args")
