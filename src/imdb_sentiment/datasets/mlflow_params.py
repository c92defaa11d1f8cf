"""Log a dict of run facts (vocabulary size, GloVe source, device, ...) as MLflow parameters."""

from __future__ import annotations

from typing import Any

import mlflow
from kedro.io import AbstractDataset, DatasetError


class MlflowParamsDataset(AbstractDataset[dict, dict]):
    """Write-mostly: ``save`` logs each key as a parameter of the active MLflow run.

    kedro-mlflow logs the configured parameters; this logs the facts only known at run time.
    Without an active run (tracking disabled) it keeps the values in memory only.
    """

    def __init__(self, prefix: str | None = None, metadata: dict[str, Any] | None = None):
        self._prefix = prefix
        self._data: dict | None = None
        self.metadata = metadata

    def load(self) -> dict:
        run = mlflow.active_run()
        if run is not None:
            params = mlflow.get_run(run.info.run_id).data.params
            start = f"{self._prefix}." if self._prefix else ""
            return {k[len(start) :]: v for k, v in params.items() if k.startswith(start)}
        if self._data is None:
            raise DatasetError("MlflowParamsDataset: nothing logged yet and no active MLflow run")
        return self._data

    def save(self, data: dict) -> None:
        self._data = dict(data)
        if mlflow.active_run() is None:
            return
        start = f"{self._prefix}." if self._prefix else ""
        mlflow.log_params({f"{start}{key}": value for key, value in data.items()})

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix}
