"""The SFT stage of a run that starts from the SFT policy (``train.start: sft``): Base -> SFT -> preference.

The stage is an ``sft`` run of the same config and seed (method ``sft``, mode ``train``, ``train.start: base``; what
cannot change its weights is left out: the output folder, trackers, out-of-distribution tasks, lm-eval, the RM
profile, ``best_rm``), executed by the same code as any run (``execute_run``) in a run folder of its own in the cache,
``<cache_dir or $HARNESS_CACHE>/sft_stages/<key>/``, keyed by everything its weights depend on (that config, the
policy's and RMs' model files, the device kind). It is trained once, under the store's run lock (``run_lock``:
concurrent runs wait for its ``metrics.json``), and every later run of any method reuses it; an interrupted stage
resumes from its checkpoint like any run. Its folder holds what a run folder holds: ``metrics.json`` is the SFT
row's result, the final ``checkpoint.pt`` the SFT weights that the run then merges into the policy
(``harness.models.start``).
"""

from __future__ import annotations

import gc
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import torch

from harness.common.content_cache import cache_home, content_key
from harness.common.files import read_json
from harness.config.parse import to_dict
from harness.config.schema import MethodConfig, RunConfig
from harness.models.loading import model_identity
from harness.models.start import StartPolicy
from harness.store.layout import CHECKPOINT, METRICS
from harness.store.run_folder import is_finished, run_lock, set_aside_result

SFT_STAGE_VERSION = 1
STAGES = "sft_stages"
SFT_METHOD = "sft"


def stage_config(config: RunConfig) -> RunConfig:
    """The ``sft`` run whose result a ``train.start: sft`` run of ``config`` starts from (its ``out`` not yet set)."""
    return replace(config, mode="train", method=MethodConfig(SFT_METHOD, {}), best_rm="", ood_tasks=[], profile=None,
                   log=[], out="", train=replace(config.train, start="base"), eval=replace(config.eval, lm_eval=None))


def stage_identity(config: RunConfig) -> dict[str, Any]:
    """Everything the SFT stage of ``config`` depends on: its config (not its folders) and the models' files."""
    stage = to_dict(replace(stage_config(config), cache_dir=""))
    policy = config.policy
    models = {"policy": model_identity(policy.model, policy.dtype, policy.device)}
    for rm in config.reward_models:
        for key in ("model", "reference"):
            if key in rm.settings:
                models[f"{rm.name}.{key}"] = model_identity(str(rm.settings[key]), rm.settings.get("dtype", "auto"),
                                                            rm.settings.get("device", "auto"))
    device = policy.device if policy.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    return {"version": SFT_STAGE_VERSION, "config": stage, "models": models, "device": device}


def stage_folder(config: RunConfig) -> Path:
    """The SFT stage's run folder: ``<cache_dir or $HARNESS_CACHE>/sft_stages/<key>``."""
    root = Path(config.cache_dir) if config.cache_dir else cache_home()
    return root / STAGES / content_key(stage_identity(config))


def _trained(folder: Path) -> bool:
    return is_finished(folder) and (folder / CHECKPOINT).exists()


def ensure_sft_stage(config: RunConfig, execute: Callable[[RunConfig], Any], poll_seconds: float = 5.0,
                     report: Callable[[str], None] | None = None) -> StartPolicy:
    """The SFT policy that ``config`` starts from: read from its stage folder, trained there first (by ``execute``,
    i.e. ``execute_run``) when no run did so before; while another process trains it, this one waits."""
    folder = stage_folder(config)
    say = report or (lambda message: None)
    while not _trained(folder):
        with run_lock(folder) as held:
            if held and not _trained(folder):
                set_aside_result(folder)
                say(f"training the SFT stage in {folder}")
                execute(replace(stage_config(config), out=str(folder)))
                gc.collect()  # the stage's policy and RMs, before this run loads its own
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                continue
        if not held:
            say(f"waiting for the SFT stage that another process trains in {folder}")
            time.sleep(poll_seconds)
    state = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=False)
    test = read_json(folder / METRICS)["test"]
    record = {"from": SFT_METHOD, "stage": folder.name, "stage_folder": str(folder),
              "stage_test": {k: v for k, v in test.items() if k in ("accuracy", "score", "mean_output_chars")}}
    return StartPolicy(state["adapter"], record)

