"""TensorBoard: scalars per step and the hyper-parameters with the final metrics, in ``<run>/tensorboard/``."""

from __future__ import annotations

from torch.utils.tensorboard import SummaryWriter

from harness.loop.trackers.base import HyperParameters, Tracker

FOLDER = "tensorboard"


class TensorBoardTracker(Tracker):
    description = "TensorBoard event files in <run>/tensorboard (tensorboard --logdir results/<sweep>)"

    def start(self, hyperparameters: HyperParameters) -> None:
        self.hyperparameters = hyperparameters
        self.writer = SummaryWriter(log_dir=str(self.folder / FOLDER))

    def log(self, values: dict[str, float], step: int) -> None:
        for key, value in values.items():
            self.writer.add_scalar(key, value, step)

    def finish(self, final: dict[str, float]) -> None:
        self.writer.add_hparams(self.hyperparameters, final, run_name=".")  # the same folder: one run in the HParams tab
        self.close()

    def close(self) -> None:
        if getattr(self, "writer", None) is not None:
            self.writer.close()
            self.writer = None
