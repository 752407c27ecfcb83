"""The interface of an experiment tracker: start with the run's hyper-parameters, log scalars per step, finish
with the final metrics. One subclass per tool, one line in ``TRACKERS`` (``harness.loop.trackers.registry``); a tracker
is built for one run from a ``TrackerContext`` (the run's folder and name) through ``from_config``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from harness.config.registry import NoArgs

HyperParameters = dict[str, str | int | float | bool]


@dataclass(frozen=True)
class TrackerContext:
    """The run a tracker follows."""

    folder: Path   # the run's folder
    name: str      # its name in the store (run id)


class Tracker:
    Config: ClassVar[type] = NoArgs
    description: ClassVar[str] = ""

    @classmethod
    def from_config(cls, config: Any, context: TrackerContext) -> Tracker:
        return cls(context.folder, context.name)

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
