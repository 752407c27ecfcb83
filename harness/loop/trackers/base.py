"""The interface of an experiment tracker: start with the run's hyper-parameters, log scalars per step, finish
with the final metrics. One subclass per tool, one line in ``TRACKERS`` (``harness.loop.trackers.registry``)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from harness.config.registry import NoArgs

HyperParameters = dict[str, str | int | float | bool]


class Tracker:
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = folder, name  # the run's folder and its name in the store (run id)

    def start(self, hyperparameters: HyperParameters) -> None:
        raise NotImplementedError

    def log(self, values: dict[str, float], step: int) -> None:
        raise NotImplementedError

    def finish(self, final: dict[str, float]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what ``start`` opened when the run ends without ``finish`` (it failed)."""
