"""Per-epoch training metrics to MLflow as each epoch ends, not after training."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable
from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError

logger = logging.getLogger(__name__)


class MlflowEpochLogger:
    """Called with one epoch's record: logs its numbers as metrics of the active MLflow run,
    step = the epoch; without an active run (tracking off, a test) it does nothing."""

    def __call__(self, record: dict[str, Any]) -> None:
        run = mlflow.active_run()
        if run is None:
            return
        epoch = int(record["epoch"])
        metrics = {
            key: float(value)
            for key, value in record.items()
            if key != "epoch" and isinstance(value, numbers.Real) and not isinstance(value, bool)
        }
        mlflow.log_metrics(metrics, step=epoch, run_id=run.info.run_id)


class EpochLoggerDataset(AbstractDataset[None, Callable[[dict[str, Any]], None]]):
    """Load-only: the function the training node calls at the end of every epoch.

    Writing to MLflow is I/O, so it comes through the catalog like the rest: the training
    library takes an ``on_epoch_end`` callback, the node passes on what it is given, and tests
    give it a list's ``append``.
    """

    def __init__(self, metadata: dict[str, Any] | None = None) -> None:
        self.metadata = metadata

    def load(self) -> Callable[[dict[str, Any]], None]:
        return MlflowEpochLogger()

    def save(self, data: Any) -> None:
        raise DatasetError("EpochLoggerDataset is read-only: it hands out the epoch logger")

    def _describe(self) -> dict[str, Any]:
        return {}
