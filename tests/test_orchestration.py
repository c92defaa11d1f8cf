"""Orchestrated runs: node tasks in fresh sessions, all logging to one MLflow run (no Airflow)."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.io import MemoryDataset

from imdb_sentiment.orchestration import KedroProject
from tests.e2e.kedro_runs import inside, runs_of, tracking_uri


def test_every_dataset_passed_between_nodes_is_persisted(project_copy: Path) -> None:
    """Each node may run in its own process: what one node hands another must be on disk (or in
    MLflow), never a MemoryDataset, which a fresh session finds empty."""
    bootstrap_project(project_copy)
    with inside(project_copy), KedroSession.create(project_path=project_copy) as session:
        catalog = session.load_context().catalog
        pipeline = pipelines["__default__"]
        produced = {output for node in pipeline.nodes for output in node.outputs}
        consumed = {name for node in pipeline.nodes for name in node.inputs}
        between = produced & consumed
        assert len(between) >= 10  # splits, tokens, vocabulary, ids, model, metrics, ...
        # an undeclared dataset is a MemoryDataset made at run time (catalog.get alone says None)
        in_memory = {
            name
            for name in between
            if isinstance(catalog.get(name, fallback_to_runtime_pattern=True), MemoryDataset)
        }
    assert not in_memory, f"passed between nodes but not persisted: {sorted(in_memory)}"


def _status(project: Path, run_id: str) -> str:
    return mlflow.MlflowClient(tracking_uri(project)).get_run(run_id).info.status


@pytest.mark.slow
def test_node_tasks_in_fresh_sessions_log_to_the_one_run_of_the_dag_run(project_copy) -> None:
    project = KedroProject(package_name="imdb_sentiment", project_path=project_copy)
    with inside(project_copy):
        run_id = project.open_mlflow_run(tags={"orchestrator": "test"})
        client = mlflow.MlflowClient(tracking_uri(project_copy))
        named = client.get_run(run_id).info.run_name
        assert _status(project_copy, run_id) == "RUNNING"
        project.run_nodes(["validate_imdb_reviews"], run_id)
        # the second session reads what the first wrote: nothing is shared in memory
        project.run_nodes(["split_train_valid"], run_id)
        assert _status(project_copy, run_id) == "RUNNING"
        project.close_mlflow_run(run_id, succeeded=True)

    (run,) = runs_of(project_copy)
    assert run.info.run_id == run_id
    assert run.info.status == "FINISHED"
    # named once, by open_mlflow_run, as `kedro run` names its runs; the tasks keep the name
    assert run.info.run_name == named
    assert named.startswith("all · local · bilstm-1x64-max_mean · ")
    assert run.data.tags["orchestrator"] == "test"
    assert run.data.tags["kedro_command"] == "kedro run --pipeline=__default__"
    assert "node_names" not in run.data.tags
    # the parameters of both nodes, each logged by its own task
    assert run.data.params["ingestion.clean_splits"] == "True"
    assert run.data.params["ingestion.valid_fraction"] == "0.1"
    for split in ("train", "valid", "test"):
        assert (project_copy / "data" / "02_intermediate" / f"{split}_reviews.parquet").is_file()


@pytest.mark.slow
def test_a_failed_node_task_fails_the_run_and_the_teardown_keeps_it_failed(project_copy) -> None:
    project = KedroProject(package_name="imdb_sentiment", project_path=project_copy)
    missing = {"imdb_source": str(project_copy / "no_such_imdb")}
    with inside(project_copy):
        run_id = project.open_mlflow_run(missing)
        with pytest.raises(Exception, match="no_such_imdb"):
            project.run_nodes(["validate_imdb_reviews"], run_id, missing)
        assert _status(project_copy, run_id) == "FAILED"
        assert mlflow.active_run() is None
        project.close_mlflow_run(run_id, succeeded=False, runtime_params=missing)
    (run,) = runs_of(project_copy)
    assert run.info.status == "FAILED"
    assert "no_such_imdb" in run.info.run_name
