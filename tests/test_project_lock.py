"""The project lock against a real second process: refused, waited for, or taken over."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import click
import pytest

from imdb_sentiment.project_lock import (
    LOCK_FILE,
    WAIT_ENV,
    LockHolder,
    ProjectBusyError,
    ProjectLock,
    wait_seconds_from_env,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from imdb_sentiment.project_lock import LockHolder, ProjectLock
    sys.argv = ["kedro", "run", "--pipeline=training"]
    lock = ProjectLock({project!r})
    lock.acquire(LockHolder.this_process(["training"]))
    print("locked", flush=True)
    time.sleep({hold})
    lock.release()
    print("released", flush=True)
    time.sleep(60)
    """
)


def hold_lock(project: Path, hold: float) -> subprocess.Popen:
    """Another process that holds the project lock for ``hold`` seconds."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(project=str(project), hold=hold)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def stop(process: subprocess.Popen) -> None:
    process.kill()
    process.wait()


def this_run() -> LockHolder:
    return LockHolder.this_process(["evaluate"])


def test_a_second_run_is_refused_naming_the_first(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, hold=60)
    try:
        with pytest.raises(ProjectBusyError) as raised:
            ProjectLock(tmp_path).acquire(this_run())
    finally:
        stop(holder)
    message = raised.value.format_message()
    assert f"pid {holder.pid}," in message
    assert "`kedro run --pipeline=training` (pipelines training)" in message
    assert WAIT_ENV in message and str(tmp_path / LOCK_FILE) in message
    assert isinstance(raised.value, click.ClickException)  # the CLI prints it as one line


def test_a_waiting_run_starts_when_the_first_releases(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, hold=1.5)
    lock = ProjectLock(tmp_path)
    try:
        started = time.monotonic()
        stale = lock.acquire(this_run(), wait_seconds=30)
        waited = time.monotonic() - started
    finally:
        stop(holder)
    assert stale is None  # released properly: nothing to report
    assert 0.5 < waited < 30
    lock.release()


def test_waiting_is_bounded(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, hold=60)
    try:
        with pytest.raises(ProjectBusyError, match=r"still writing .* after 1 s of waiting"):
            ProjectLock(tmp_path).acquire(this_run(), wait_seconds=1)
    finally:
        stop(holder)


def test_the_lock_of_a_killed_run_is_taken_over_and_reported(tmp_path: Path) -> None:
    holder = hold_lock(tmp_path, hold=60)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()

    lock = ProjectLock(tmp_path)
    stale = lock.acquire(this_run())

    assert stale is not None and stale.pid == holder.pid
    assert stale.command == "kedro run --pipeline=training"
    lock.release()
    assert (tmp_path / LOCK_FILE).read_text() == ""  # a clean end leaves nothing to report
    assert ProjectLock(tmp_path).acquire(this_run()) is None


def test_the_wait_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WAIT_ENV, raising=False)
    assert wait_seconds_from_env() == 0
    monkeypatch.setenv(WAIT_ENV, "90")
    assert wait_seconds_from_env() == 90
    for bad in ("soon", "-5"):
        monkeypatch.setenv(WAIT_ENV, bad)
        with pytest.raises(click.ClickException, match=WAIT_ENV):
            wait_seconds_from_env()


def test_the_tasks_of_an_orchestrated_run_share_the_lock(tmp_path: Path) -> None:
    """Airflow's tasks of one DAG run side by side; an ordinary run is refused beside them,
    and they beside it."""
    task, sibling = ProjectLock(tmp_path), ProjectLock(tmp_path)
    assert task.acquire(this_run(), shared=True) is None
    assert sibling.acquire(this_run(), shared=True) is None
    with pytest.raises(ProjectBusyError, match="the tasks of an orchestrated run"):
        ProjectLock(tmp_path).acquire(this_run())
    task.release()
    sibling.release()

    holder = hold_lock(tmp_path, hold=60)
    try:
        with pytest.raises(ProjectBusyError, match=f"pid {holder.pid},"):
            ProjectLock(tmp_path).acquire(this_run(), shared=True)
    finally:
        stop(holder)
