"""SIGTERM (`kill`, `timeout`) stops a run as Ctrl-C does and marks its MLflow run KILLED."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.fault.checks import assert_no_run_left_running, assert_outputs_intact, mlflow_run_of
from tests.fault.conftest import FAST_PARAMS, Dag
from tests.fault.harness import ForkServer, snapshot, temporaries, wait_for_line

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.heavy]

LONG_TRAINING = f"{FAST_PARAMS},training.epochs=500,training.patience=500"


def process_group_is_gone(pid: int) -> bool:
    """Whether no process of the run's group (its forked workers included) is left."""
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_sigterm_in_training_keeps_the_best_model_and_marks_the_run_killed(
    trained_project: Path, fork_server: ForkServer
) -> None:
    before = snapshot(trained_project)
    run = fork_server.start(trained_project, "--pipeline=training", f"--params={LONG_TRAINING}")
    wait_for_line(run, "epoch 2: train loss")
    os.kill(run.pid, signal.SIGTERM)
    fork_server.wait(run, timeout=120)

    assert run.returncode == 1, run.output[-3000:]  # handled: ended by the CLI, not the signal
    assert "SIGTERM received" in run.output
    assert "training was interrupted" in run.output
    assert_outputs_intact(trained_project, before, run)
    assert any(path.suffix == ".pt" for path in run.replaced)  # the best model so far is saved
    record = mlflow_run_of(trained_project, run)
    assert record.info.status == "KILLED"
    assert record.info.end_time is not None
    assert_no_run_left_running(trained_project)

    # an evaluate-only run of that model says where it comes from, and that it did not finish
    evaluate = fork_server.run(trained_project, "--pipeline=evaluate")
    assert evaluate.returncode == 0, evaluate.output[-5000:]
    assert f"({record.info.run_id}), which is KILLED, not FINISHED" in evaluate.output
    tags = mlflow_run_of(trained_project, evaluate).data.tags
    assert tags["trained_in_run_id"] == record.info.run_id
    assert tags["trained_in_run_name"] == record.info.run_name  # not "__default__"
    assert tags["trained_in_run_status"] == "KILLED"


def test_sigterm_in_training_alone_still_fails_the_command(
    trained_project: Path, fork_server: ForkServer, dag: Dag
) -> None:
    """Without the node that fails an interrupted training, the pipeline ends normally after
    SIGTERM; the command must still fail and the run end KILLED."""
    (trainer,) = {o.node for o in dag.outputs if o.filename.endswith(".pt")}
    run = fork_server.start(trained_project, f"--nodes={trainer}", f"--params={LONG_TRAINING}")
    wait_for_line(run, "epoch 2: train loss")
    os.kill(run.pid, signal.SIGTERM)
    fork_server.wait(run, timeout=120)

    assert run.returncode == 1, run.output[-3000:]
    assert "was stopped by SIGTERM: marked KILLED" in run.output
    assert any(path.suffix == ".pt" for path in run.replaced)
    assert mlflow_run_of(trained_project, run).info.status == "KILLED"
    assert_no_run_left_running(trained_project)


def test_sigterm_while_tokenizing_stops_the_workers_and_marks_the_run_killed(
    trained_project: Path, fork_server: ForkServer
) -> None:
    before = snapshot(trained_project)
    run = fork_server.start(trained_project, "--pipeline=tokenization")
    wait_for_line(run, "Running node: tokenize_")
    os.kill(run.pid, signal.SIGTERM)
    fork_server.wait(run, timeout=120)

    assert run.returncode == 1, run.output[-3000:]
    assert "SIGTERM received" in run.output
    assert process_group_is_gone(run.pid)  # no orphaned tokenizer worker
    assert_outputs_intact(trained_project, before, run)
    assert temporaries(trained_project) == []  # an interrupted save removes its temporary
    record = mlflow_run_of(trained_project, run)
    assert record.info.status == "KILLED" and record.info.end_time is not None
    assert_no_run_left_running(trained_project)
