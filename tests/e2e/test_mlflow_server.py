"""A real `mlflow server` on 127.0.0.1 serves the run back through its REST API."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.e2e import services
from tests.e2e.kedro_runs import runs_of, tracking_uri

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_server(trained_project: Path, tmp_path: Path):
    with services.mlflow_server(
        tracking_uri(trained_project), tmp_path / "mlflow-server.log", cwd=trained_project
    ) as url:
        yield url


def test_rest_api_returns_params_and_metric_history(trained_project, mlflow_server) -> None:
    run = runs_of(trained_project)[0]
    got = requests.get(
        f"{mlflow_server}/api/2.0/mlflow/runs/get", params={"run_id": run.info.run_id}, timeout=10
    ).json()["run"]
    params = {p["key"]: p["value"] for p in got["data"]["params"]}
    assert params["training.model.bilstm.hidden_dim"] == "16"
    assert int(params["vocabulary_size"]) > 1000

    history = requests.get(
        f"{mlflow_server}/api/2.0/mlflow/metrics/get-history",
        params={"run_id": run.info.run_id, "metric_key": "train_loss"},
        timeout=10,
    ).json()["metrics"]
    assert [point["step"] for point in sorted(history, key=lambda p: p["step"])] == [1, 2]
    assert all(point["value"] > 0 for point in history)
