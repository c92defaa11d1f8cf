"""Runs of killed processes closed, and SQLite failures named: against real processes, a real
MLflow store and real SQLite errors."""

from __future__ import annotations

import logging
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from mlflow.entities import LoggedModelStatus

from imdb_sentiment.run_states import (
    CLOSED_BY_TAG,
    HOST_TAG,
    PID_NAMESPACE_TAG,
    PID_TAG,
    PROCESS_START_TAG,
    close_abandoned_runs,
    describe_store_failure,
    process_is_gone,
    process_tags,
    sqlite_store_path,
)


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_live_process_is_not_gone_and_a_dead_one_is(dead_pid: int) -> None:
    assert not process_is_gone(process_tags())
    assert process_is_gone(process_tags() | {PID_TAG: str(dead_pid)})


def test_a_reused_pid_is_told_apart_by_its_start(dead_pid: int) -> None:
    mine = process_tags()
    if PROCESS_START_TAG not in mine:
        pytest.skip("process start times are read from /proc (Linux)")
    boot, _, ticks = mine[PROCESS_START_TAG].partition(":")
    assert process_is_gone(mine | {PROCESS_START_TAG: f"{boot}:{int(ticks) - 1}"})
    assert process_is_gone(mine | {PROCESS_START_TAG: f"another-boot:{ticks}"})


def test_runs_of_other_hosts_or_without_tags_are_never_judged(dead_pid: int) -> None:
    assert not process_is_gone({HOST_TAG: "elsewhere", PID_TAG: str(dead_pid)})
    other_container = process_tags() | {PID_TAG: str(dead_pid), PID_NAMESPACE_TAG: "pid:[1]"}
    assert not process_is_gone(other_container)
    assert not process_is_gone({})
    assert not process_is_gone({HOST_TAG: socket.gethostname()})


@pytest.mark.slow  # a fresh MLflow store: its migrations take 10-30 s here
def test_only_runs_of_gone_processes_are_closed_and_their_pending_models_failed(
    tmp_path: Path, dead_pid: int, caplog: pytest.LogCaptureFixture
) -> None:
    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("e", artifact_location=str(tmp_path / "artifacts"))

    def run(name: str, tags: dict[str, str]) -> str:
        return client.create_run(experiment, run_name=name, tags=tags).info.run_id

    killed = run("killed", process_tags() | {PID_TAG: str(dead_pid)})
    live = run("live", process_tags())
    elsewhere = run("elsewhere", {HOST_TAG: "another-host", PID_TAG: str(dead_pid)})
    untagged = run("untagged", {})
    finished = run("finished", process_tags() | {PID_TAG: str(dead_pid)})
    client.set_terminated(finished, "FINISHED")
    current = run("current", process_tags())
    pending = client.create_logged_model(experiment, name="m", source_run_id=killed)

    with caplog.at_level(logging.WARNING):
        closed = close_abandoned_runs(client, experiment, current)

    assert [r.info.run_id for r in closed] == [killed]
    record = client.get_run(killed)
    assert record.info.status == "KILLED" and record.info.end_time is not None
    assert record.data.tags[CLOSED_BY_TAG] == current
    for other in (live, elsewhere, untagged, current):
        assert client.get_run(other).info.status == "RUNNING"
    assert client.get_logged_model(pending.model_id).status == LoggedModelStatus.FAILED
    assert f"'killed' ({killed}) was left RUNNING by process {dead_pid}" in caplog.text
    assert pending.model_id in caplog.text


# --------------------------------------------------------------------------- store failures


def failure(database: Path, statement: str, **connect: object) -> sqlite3.Error:
    """The error SQLite raises for ``statement`` on ``database``."""
    connection = sqlite3.connect(**({"database": database} | connect))
    try:
        connection.execute(statement)
        connection.commit()
    except sqlite3.Error as error:
        return error
    finally:
        connection.close()
    raise AssertionError(f"{statement} did not fail")


def test_sqlite_failures_are_restated_naming_the_database(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    sqlite3.connect(database).execute("CREATE TABLE runs (id TEXT)").connection.commit()
    uri = f"sqlite:///{database}"

    blocker = sqlite3.connect(database)
    blocker.execute("BEGIN EXCLUSIVE")
    locked = failure(database, "INSERT INTO runs VALUES ('a')", timeout=0)
    blocker.rollback()
    readonly = failure(
        f"file:{database}?mode=ro", "INSERT INTO runs VALUES ('a')", uri=True, timeout=0
    )
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database" * 100)
    corrupt = failure(garbage, "SELECT * FROM runs")

    for error, phrase in (
        (locked, "database is locked"),
        (readonly, "attempt to write a readonly database"),
        (corrupt, "file is not a database"),
    ):
        wrapped = RuntimeError("(sqlite3.OperationalError) from deep inside MLflow")
        wrapped.__cause__ = error
        message = describe_store_failure(wrapped, uri)
        assert message is not None and message.startswith(
            f"MLflow's tracking store {database} failed ({phrase})"
        )
    assert describe_store_failure(locked, "http://mlflow.example.org:5000") is None
    assert describe_store_failure(ValueError("no sqlite here"), uri) is None


def test_relative_and_absolute_sqlite_uris(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    assert sqlite_store_path("sqlite:///mlflow.db") == tmp_path / "mlflow.db"
    assert sqlite_store_path("sqlite:////srv/mlflow.db") == Path("/srv/mlflow.db")
    assert sqlite_store_path("postgresql+psycopg2://u@h/db") is None
