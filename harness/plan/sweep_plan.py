"""Plans for every run of a run or sweep config, runs with the same memory needs planned once."""

from __future__ import annotations

import json
from typing import Sequence

from harness.config.parse import to_dict
from harness.config.schema import RunConfig
from harness.plan.placement import Device, choose
from harness.plan.table import PlannedRuns

IRRELEVANT = ("seed", "out", "cache_dir", "log")


def memory_key(config: RunConfig) -> str:
    """What of a run config its plan depends on: everything but its seed, folders, trackers and method arguments."""
    data = {k: v for k, v in to_dict(config).items() if k not in IRRELEVANT}
    data["method"] = data["method"]["name"]
    return json.dumps(data, sort_keys=True, default=str)


def plan_runs(runs: Sequence[tuple[str, RunConfig]], device: Device, gpus: int = 1) -> list[PlannedRuns]:
    groups: dict[str, PlannedRuns] = {}
    for run_id, config in runs:
        key = memory_key(config)
        if key in groups:
            groups[key].run_ids.append(run_id)
        else:
            groups[key] = PlannedRuns([run_id], choose(config, device, gpus))
    return list(groups.values())
