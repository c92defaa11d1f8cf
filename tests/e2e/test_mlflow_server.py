"""A real `mlflow server` on 127.0.0.1 serves the run back through its REST API."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.kedro_runs import runs_of, tracking_uri

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mlflow_server(trained_project: Path):
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            tracking_uri(trained_project),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        cwd=trained_project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited: {server.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        else:
            pytest.fail("mlflow server did not answer /health within 90 s")
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


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
