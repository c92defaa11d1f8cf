"""kill -9 at every node boundary and inside every kind of save.

Each case runs one node of a trained project (its inputs are there) in a fresh process that a
fault point kills with SIGKILL. The next case's run is the killed run's "next start": it must
find the lock its predecessor died holding, close its MLflow run as KILLED and remove the
temporary file it left, each with a message naming it.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest

from tests.e2e.kedro_runs import runs_of, tracking_uri
from tests.fault.checks import (
    assert_closed_as_killed,
    assert_no_run_left_running,
    assert_outputs_intact,
    mlflow_run_of,
)
from tests.fault.conftest import FAST_PARAMS, Dag
from tests.fault.harness import ForkServer, Run, snapshot, temporaries

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.heavy]


def next_start(fork_server: ForkServer, project: Path, dag: Dag) -> Run:
    """A plain run of the DAG's first node: the start that cleans up after a killed run."""
    run = fork_server.run(project, f"--nodes={dag.nodes[0]}")
    assert run.returncode == 0, run.output[-5000:]
    return run


def killed_run(
    fork_server: ForkServer, project: Path, node: str, fault: str, before: dict[Path, str]
) -> tuple[Run, dict[Path, str]]:
    """`kedro run --nodes=<node>` killed at ``fault``; every output still whole, and only those
    the run published changed. Returns the run and the outputs' new snapshot."""
    run = fork_server.run(project, f"--nodes={node}", f"--params={FAST_PARAMS}", fault=fault)
    assert run.killed_by_fault, f"{fault}: {run.output[-5000:]}"
    return run, assert_outputs_intact(project, before, run)


def test_kill_at_every_node_boundary(trained_project: Path, fork_server: ForkServer, dag: Dag):
    before = snapshot(trained_project)
    killed: Run | None = None
    for node in dag.nodes:
        run, before = killed_run(fork_server, trained_project, node, f"after_node:{node}", before)
        if killed is not None:
            assert_closed_as_killed(trained_project, killed, closer=run)
            assert f"The run before this one (pid {killed.pid}" in run.output
        killed = run
    closer = next_start(fork_server, trained_project, dag)
    assert_closed_as_killed(trained_project, killed, closer)
    assert_no_run_left_running(trained_project)


def test_kill_inside_every_kind_of_save(trained_project: Path, fork_server: ForkServer, dag: Dag):
    """One save of each dataset class the pipelines write (parquet, JSON, numpy, npz, torch,
    versioned, inside MLflow's artifact wrapper): killed with the temporary file complete, just
    before the rename. The file keeps its earlier content; the next run removes the temporary."""
    kinds = {}
    for output in dag.outputs:
        kinds.setdefault(output.kind, output)
    assert len(kinds) >= 5, kinds  # parquet, JSON, npy, npz, torch, png: the test covers them
    before = snapshot(trained_project)
    killed: Run | None = None
    for output in kinds.values():
        previous_file = dict(before)
        run, before = killed_run(
            fork_server, trained_project, output.node, f"save:{output.filename}", before
        )
        left = temporaries(trained_project)
        assert [path.name.startswith(f".{output.filename}.") for path in left] == [True], left
        for path, digest in previous_file.items():
            if path.name == output.filename:
                assert before[path] == digest, f"{path} changed though its save was killed"
        if killed is not None:
            assert_closed_as_killed(trained_project, killed, closer=run)
            assert "Removed 1 temporary file(s)" in run.output, run.output[-3000:]
        killed = run
    closer = next_start(fork_server, trained_project, dag)
    assert_closed_as_killed(trained_project, killed, closer)
    assert f"{left[0].relative_to(trained_project)}" in closer.output
    assert temporaries(trained_project) == []
    assert_no_run_left_running(trained_project)


def test_kill_while_the_model_is_logged(trained_project: Path, fork_server: ForkServer, dag: Dag):
    """Killed inside MLflow's model logging: the logged model stays PENDING, the run RUNNING;
    the next start marks the model FAILED and the run KILLED."""
    run = fork_server.run(
        trained_project,
        f"--nodes={dag.model_logging_node}",
        fault="call:mlflow.tracking.client:MlflowClient.log_model_artifacts",
    )
    assert run.killed_by_fault, run.output[-5000:]
    record = mlflow_run_of(trained_project, run)
    client = mlflow.MlflowClient(tracking_uri(trained_project))
    (pending,) = client.search_logged_models(
        [record.info.experiment_id], filter_string=f"source_run_id = '{record.info.run_id}'"
    )
    assert str(pending.status) == "PENDING"

    closer = next_start(fork_server, trained_project, dag)

    assert_closed_as_killed(trained_project, run, closer)
    assert str(client.get_logged_model(pending.model_id).status) == "FAILED"
    assert pending.model_id in closer.output
    assert_no_run_left_running(trained_project)
    assert len(runs_of(trained_project)) == 3  # the template's, the killed one, the closer
