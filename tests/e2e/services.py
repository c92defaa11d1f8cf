"""Servers the end-to-end tests start on 127.0.0.1, and stop with all their children."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

READY_WITHIN_S = 120


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(ready: Callable[[], bool], process: subprocess.Popen, log: Path, what: str) -> None:
    """Polls ``ready`` until it holds; fails with the log's tail if ``process`` exits first."""
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.5)
    pytest.fail(f"{what} was not ready within {READY_WITHIN_S} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen, first_signal: int) -> None:
    """``first_signal`` to the leader, then SIGKILL to whatever of its session is left."""
    if process.poll() is None:
        process.send_signal(first_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # e.g. the uvicorn that `mlflow server` spawns
    process.wait(timeout=30)


@contextlib.contextmanager
def service(
    command: list[str], log: Path, stop_signal: int = signal.SIGTERM, **popen: Any
) -> Iterator[subprocess.Popen]:
    """A server process in its own session, its output in ``log``, stopped on the way out."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
    try:
        yield process
    finally:
        _stop(process, stop_signal)


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str,
    log: Path,
    extra_arguments: tuple[str, ...] = (),
    environment: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """`mlflow server` on a free port of 127.0.0.1, one worker; yields its URL once healthy."""
    port = free_port()
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri",
        backend_store_uri,
        *extra_arguments,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # MLflow's GenAI job runner, unused here, would leave a store in /dev/shm behind
    environment = {
        **(os.environ if environment is None else environment),
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    with service(command, log, env=environment, cwd=cwd) as server:
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: requests.get(f"{url}/health", timeout=2).ok, server, log, "mlflow server"
        )
        yield url
