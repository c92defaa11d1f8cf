"""What every fault case must end with: outputs intact, MLflow's run states true."""

from __future__ import annotations

from pathlib import Path

from mlflow.entities import Run as MlflowRun

from imdb_sentiment.run_states import PID_TAG
from tests.e2e.kedro_runs import runs_of
from tests.fault.harness import Run, changes, snapshot, unreadable


def assert_outputs_intact(project: Path, before: dict[Path, str], run: Run) -> dict[Path, str]:
    """Every file reads back whole, and the only files that changed are those ``run``
    published whole (renamed into place); returns the new snapshot."""
    after = snapshot(project)
    broken = unreadable(project)
    assert not broken, f"unreadable after {run.log}: {broken}"
    touched = changes(before, after)
    assert touched <= run.replaced, (
        f"changed but not published whole by the run: {sorted(touched - run.replaced)}"
    )
    return after


def mlflow_run_of(project: Path, run: Run) -> MlflowRun:
    """The MLflow run of the process ``run`` (tagged with its pid)."""
    matching = [r for r in runs_of(project) if r.data.tags.get(PID_TAG) == str(run.pid)]
    assert len(matching) == 1, f"{len(matching)} MLflow runs of pid {run.pid}"
    return matching[0]


def assert_no_run_left_running(project: Path) -> None:
    running = [
        (r.info.run_name, r.info.run_id) for r in runs_of(project) if r.info.status == "RUNNING"
    ]
    assert not running, f"MLflow runs left RUNNING: {running}"


def assert_closed_as_killed(project: Path, killed: Run, closer: Run) -> None:
    """``closer``, the run after ``killed``, found its MLflow run RUNNING, marked it KILLED with
    an end time, and said so naming it."""
    record = mlflow_run_of(project, killed)
    assert record.info.status == "KILLED", record.info
    assert record.info.end_time is not None
    assert f"was left RUNNING by process {killed.pid}" in closer.output, closer.output[-3000:]
    assert f"({record.info.run_id})" in closer.output
