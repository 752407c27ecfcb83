"""Trackers by name (``log:`` in a run config), built for a run from a ``TrackerContext``, and the package each
built-in one needs."""

from __future__ import annotations

import importlib.util

from harness.config.errors import ConfigError
from harness.config.registry import Registry
from harness.loop.trackers.base import Tracker, TrackerContext

TRACKERS: Registry[type[Tracker]] = Registry("tracker", {
    "tensorboard": "harness.loop.trackers.tensorboard:TensorBoardTracker",
    "wandb": "harness.loop.trackers.wandb:WandbTracker",
    "mlflow": "harness.loop.trackers.mlflow:MlflowTracker",
}, base=Tracker, context=TrackerContext)

PACKAGES = {"tensorboard": ("tensorboard", "tensorboard"), "wandb": ("wandb", "wandb"), "mlflow": ("mlflow", "mlflow-skinny")}
EXTRA = "pip install -e '.[trackers]'"


def check_trackers(names: list[str], key: str = "log") -> None:
    """A ConfigError naming ``key`` for an unknown tracker, one listed twice, or one whose package is missing."""
    for i, name in enumerate(names):
        try:
            TRACKERS.check(name)
        except ConfigError as error:
            raise ConfigError(f"{key}[{i}]: {error}") from None
        if names.count(name) > 1:
            raise ConfigError(f"{key}: each tracker must be listed once, repeated: {name}")
        module, package = PACKAGES.get(name, (None, None))
        if module and importlib.util.find_spec(module) is None:
            raise ConfigError(f"{key}[{i}]: tracker {name!r} needs the package {package!r}, which is not installed "
                              f"(the trackers extra: {EXTRA})")
