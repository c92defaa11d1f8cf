"""Two runs in one project folder: the second refuses naming the first, or waits for it.

The first run is held (a fault point that waits for a gate file) at its first node, with the
project lock taken, until the second has refused or started waiting.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from imdb_sentiment.project_lock import LOCK_FILE
from imdb_sentiment.run_states import PID_TAG
from tests.e2e.kedro_runs import inside, runs_of, tracking_uri
from tests.fault.checks import assert_no_run_left_running, mlflow_run_of
from tests.fault.conftest import Dag
from tests.fault.faults import GATE_ENV, HELD_MARK
from tests.fault.harness import ForkServer, Run, wait_for_line

pytestmark = [pytest.mark.slow, pytest.mark.fault, pytest.mark.heavy]

FIRST, SECOND = "--params=features.max_size=3000", "--params=features.max_size=500"


def embedding_rows(project: Path, dag: Dag) -> int:
    """Rows of the embedding matrix: the vocabulary size the last features run built."""
    (output,) = [o for o in dag.outputs if o.filename.endswith(".npy")]
    (path,) = project.rglob(output.filename)
    return len(np.load(path))


def start_held(fork_server: ForkServer, project: Path, gate: Path) -> Run:
    """A features run that holds the project lock at its first node until ``gate`` exists."""
    run = fork_server.start(
        project,
        "--pipeline=features",
        FIRST,
        fault="hold:build_vocabulary",
        env={GATE_ENV: str(gate)},
    )
    wait_for_line(run, HELD_MARK)
    return run


def test_a_second_run_refuses_naming_the_running_one(
    trained_project: Path, fork_server: ForkServer, dag: Dag, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    first = start_held(fork_server, trained_project, gate)
    second = fork_server.run(trained_project, "--pipeline=features", SECOND)
    gate.touch()
    fork_server.wait(first)

    assert second.returncode == 1
    assert "another kedro run is writing this project's outputs" in second.output
    assert f"pid {first.pid}," in second.output
    assert f"`kedro run --pipeline=features {FIRST}`" in second.output
    assert "Traceback" not in second.output  # one clear line, not a stack
    assert first.returncode == 0, first.output[-3000:]
    assert embedding_rows(trained_project, dag) == 3000 + 2  # <pad>, <unk> and the first's words
    mlflow_run_of(trained_project, first)
    assert len(runs_of(trained_project)) == 2  # the template's and the first: none for the second
    assert_no_run_left_running(trained_project)


def test_with_a_wait_the_second_run_starts_when_the_first_ends(
    trained_project: Path, fork_server: ForkServer, dag: Dag, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    first = start_held(fork_server, trained_project, gate)
    second = fork_server.start(
        trained_project, "--pipeline=features", SECOND, env={"IMDB_SENTIMENT_LOCK_WAIT": "300"}
    )
    wait_for_line(second, "waiting up to 300 s for it to end")
    gate.touch()
    fork_server.wait(first)
    fork_server.wait(second)

    assert first.returncode == 0, first.output[-3000:]
    assert second.returncode == 0, second.output[-3000:]
    assert f"pid {first.pid}," in second.output
    assert embedding_rows(trained_project, dag) == 500 + 2  # the second's, whole, not a mix
    first_run = mlflow_run_of(trained_project, first)
    second_run = mlflow_run_of(trained_project, second)
    assert second_run.info.start_time >= first_run.info.end_time
    assert_no_run_left_running(trained_project)


def test_an_orchestrators_task_shares_the_lock_and_leaves_its_run_alone(
    trained_project: Path, fork_server: ForkServer, dag: Dag
) -> None:
    """A task as Airflow runs one (kedro-airflow: one node per task, in the DAG run's MLflow
    run, resumed): it takes the lock shared, does not tag or close the DAG run, and the next
    ordinary run does not close that RUNNING run either (its owner is alive elsewhere)."""
    client = mlflow.MlflowClient(tracking_uri(trained_project))
    experiment = client.get_experiment_by_name("imdb_sentiment").experiment_id
    dag_run = client.create_run(experiment, run_name="a DAG run").info.run_id
    with inside(trained_project):
        bootstrap_project(trained_project)
        with KedroSession.create(project_path=trained_project) as session:
            session.load_context()
            mlflow.start_run(run_id=dag_run)
            try:
                session.run(node_names=[dag.nodes[0]])
            finally:
                mlflow.end_run("RUNNING")  # the DAG run goes on
    assert (trained_project / LOCK_FILE).read_text() == ""  # shared: nothing recorded
    assert PID_TAG not in client.get_run(dag_run).data.tags

    ordinary = fork_server.run(trained_project, f"--nodes={dag.nodes[0]}")

    assert ordinary.returncode == 0, ordinary.output[-3000:]
    assert client.get_run(dag_run).info.status == "RUNNING"
    client.set_terminated(dag_run, "FINISHED")  # as the DAG's teardown task would
    assert_no_run_left_running(trained_project)
