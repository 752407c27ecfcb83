"""Weights & Biases: offline by default (``WANDB_MODE`` to change it), files under ``<run>/wandb/``; the project
is ``WANDB_PROJECT`` or ``harness``. ``wandb sync <run>/wandb/offline-run-*`` uploads a run later."""

from __future__ import annotations

import os

import wandb

from harness.loop.trackers.base import HyperParameters, Tracker


class WandbTracker(Tracker):
    description = "Weights & Biases, offline unless WANDB_MODE says otherwise (files in <run>/wandb)"

    def start(self, hyperparameters: HyperParameters) -> None:
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "harness"), name=self.name, dir=str(self.folder),
                              config=hyperparameters, mode=os.environ.get("WANDB_MODE", "offline"),
                              settings=wandb.Settings(silent=True, console="off"))

    def log(self, values: dict[str, float], step: int) -> None:
        self.run.log(values, step=step)

    def finish(self, final: dict[str, float]) -> None:
        self.run.summary.update({f"final/{key}": value for key, value in final.items()})
        self.close()

    def close(self) -> None:
        if getattr(self, "run", None) is not None:
            self.run.finish()
            self.run = None
