"""A full disk under the outputs or under MLflow's store, and a locked store.

The small disk is a tmpfs of its own where this user may mount one (root here); elsewhere the
outputs case caps the run's file sizes instead (RLIMIT_FSIZE: a write past the cap fails with
EFBIG as a full disk fails with ENOSPC), and the store case is skipped.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.fault.checks import assert_no_run_left_running, assert_outputs_intact, mlflow_run_of
from tests.fault.conftest import FAST_PARAMS, Dag
from tests.fault.harness import ForkServer, copy_tree, snapshot, temporaries, wait_for_line

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.heavy]

MB = 1 << 20
FORCE_RLIMIT_ENV = "FAULT_SUITE_NO_TMPFS"  # set to test the RLIMIT_FSIZE fallback here


@contextmanager
def small_disk(mountpoint: Path, size: int) -> Iterator[bool]:
    """A tmpfs of ``size`` bytes at ``mountpoint``; yields False where it cannot be mounted."""
    mountpoint.mkdir(parents=True)
    mounted = not os.environ.get(FORCE_RLIMIT_ENV) and (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mountpoint)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """A ballast file that leaves ``leave`` bytes free on the filesystem of ``disk``."""
    stats = os.statvfs(disk)
    free = stats.f_bavail * stats.f_frsize
    ballast = disk / "ballast"
    with ballast.open("wb") as handle:
        os.posix_fallocate(handle.fileno(), 0, max(free - leave, 1))
    return ballast


def store_elsewhere(project: Path, folder: Path) -> Path:
    """Move the project's MLflow store to ``folder`` (the runs' tracking URI names it there; a
    link in the project lets the checks find it); returns the new database file."""
    folder.mkdir(parents=True, exist_ok=True)
    database = Path(shutil.move(project / "mlflow.db", folder / "mlflow.db"))
    (project / "mlflow.db").symlink_to(database)
    (project / "conf" / "local" / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{database}\n"
    )
    return database


def test_a_full_disk_fails_the_save_naming_the_file_and_keeps_every_output(
    trained_template: Path, fork_server: ForkServer, tmp_path: Path
) -> None:
    """The issue's case: a second run on a full disk must not leave a truncated parquet."""
    with small_disk(tmp_path / "disk", 96 * MB) as mounted:
        project = copy_tree(trained_template, tmp_path / "disk" / "project")
        store_elsewhere(project, tmp_path / "store")  # this case is about the outputs
        ballast = fill(tmp_path / "disk", leave=1 * MB) if mounted else None
        before = snapshot(project)

        run = fork_server.run(
            project, "--pipeline=tokenization", fsize_limit=None if mounted else 2 * MB
        )

        assert run.returncode == 1, run.output[-3000:]
        error = "No space left on device" if mounted else "File too large"
        assert error in run.output
        assert "Failed while saving data to dataset" in run.output
        assert "_tokens.parquet" in run.output  # the file it could not write
        assert_outputs_intact(project, before, run)
        assert temporaries(project) == []
        assert mlflow_run_of(project, run).info.status == "FAILED"

        if ballast is not None:
            ballast.unlink()
            again = fork_server.run(project, "--pipeline=tokenization")
            assert again.returncode == 0, again.output[-3000:]
        assert_no_run_left_running(project)


def test_a_full_disk_under_the_store_mid_run_names_mlflow_db(
    trained_template: Path, fork_server: ForkServer, tmp_path: Path, dag: Dag
) -> None:
    """The store's disk fills during training: the run fails naming mlflow.db; what could not
    be recorded (the run's end) is recorded by the next run, which finds it RUNNING."""
    with small_disk(tmp_path / "store", 16 * MB) as mounted:
        if not mounted:
            pytest.skip("needs a tmpfs of its own for MLflow's store (mount not permitted)")
        project = copy_tree(trained_template, tmp_path / "project")
        database = store_elsewhere(project, tmp_path / "store")
        run = fork_server.start(
            project, "--pipeline=training", f"--params={FAST_PARAMS},training.epochs=3"
        )
        wait_for_line(run, "epoch 1: train loss")
        ballast = fill(tmp_path / "store", leave=0)
        fork_server.wait(run)

        assert run.returncode == 1, run.output[-3000:]
        assert f"MLflow's tracking store {database} failed" in run.output
        ballast.unlink()
        closer = fork_server.run(project, f"--nodes={dag.nodes[0]}")
        assert closer.returncode == 0, closer.output[-3000:]
        assert mlflow_run_of(project, run).info.status in {"FAILED", "KILLED"}
        assert_no_run_left_running(project)


def test_a_locked_store_fails_the_run_naming_mlflow_db(
    trained_project: Path, fork_server: ForkServer, dag: Dag
) -> None:
    database = trained_project / "mlflow.db"
    blocker = sqlite3.connect(database, timeout=0)
    blocker.execute("BEGIN EXCLUSIVE")  # as a sqlite3 shell or a stuck server would
    try:
        run = fork_server.run(trained_project, f"--nodes={dag.nodes[0]}")
    finally:
        blocker.rollback()
        blocker.close()

    assert run.returncode == 1, run.output[-3000:]
    assert f"MLflow's tracking store {database} failed (database is locked)" in run.output
    closer = fork_server.run(trained_project, f"--nodes={dag.nodes[0]}")
    assert closer.returncode == 0, closer.output[-3000:]
    assert_no_run_left_running(trained_project)
