"""MLflow: a local file store in ``<run>/mlruns`` unless ``MLFLOW_TRACKING_URI`` names another store (a
``sqlite:///...`` database, which needs sqlalchemy, or a server); experiment ``MLFLOW_EXPERIMENT_NAME`` or
``harness``; the run is named by its run id in the store. MLflow 3 keeps the file store in maintenance mode
and refuses it unless ``MLFLOW_ALLOW_FILE_STORE`` is set, which this tracker does for its default store only."""

from __future__ import annotations

import os
import time

from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient

from harness.loop.trackers.base import HyperParameters, Tracker

MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter's value
BATCH = 100             # parameters per log_batch call (MLflow's limit)


class MlflowTracker(Tracker):
    description = "MLflow, a local file store in <run>/mlruns unless MLFLOW_TRACKING_URI is set"

    def start(self, hyperparameters: HyperParameters) -> None:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            uri = (self.folder / "mlruns").resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self.client = MlflowClient(tracking_uri=uri)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", "harness")
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(name)
        self.run_id = self.client.create_run(experiment_id, run_name=self.name).info.run_id
        params = [Param(key, str(value)[:MAX_PARAM_CHARS]) for key, value in hyperparameters.items()]
        for start in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[start:start + BATCH])

    def log(self, values: dict[str, float], step: int) -> None:
        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(key, float(value), now, step) for key, value in values.items()])

    def finish(self, final: dict[str, float]) -> None:
        self.log({f"final/{key}": value for key, value in final.items()}, 0)
        self.client.set_terminated(self.run_id, RunStatus.to_string(RunStatus.FINISHED))
        self.run_id = None

    def close(self) -> None:
        if getattr(self, "run_id", None) is not None:
            self.client.set_terminated(self.run_id, RunStatus.to_string(RunStatus.FAILED))
            self.run_id = None
