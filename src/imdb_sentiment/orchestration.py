"""Running the Kedro pipeline as an orchestrator's tasks, all of one DAG run in one MLflow run.

An orchestrator (Airflow, through the DAG that ``kedro airflow create`` writes from
``deploy/airflow/dag_template.j2``) runs each Kedro node as its own task, in its own process and
``KedroSession``. Every dataset passed between nodes is therefore a file in the catalog, and
kedro-mlflow, left alone, would open one MLflow run per task. Instead:

1. ``open_mlflow_run`` (the DAG's setup task) creates one MLflow run, named as a ``kedro run``
   would be, and returns its id;
2. ``run_nodes`` (every node's task) sets MLflow up from ``mlflow.yml`` as ``kedro run`` does,
   resumes that run, and lets the session log into it: kedro-mlflow uses a run that is already
   active and leaves it open (its documented way for orchestrators to own the run);
3. ``close_mlflow_run`` (the DAG's teardown task, run whatever happened) marks the run FINISHED
   when every task succeeded, FAILED otherwise.

So one DAG run leaves one MLflow run with everything a ``kedro run`` logs: the parameters, the
per-epoch and test metrics, the plots and reports, and the served model.

Nothing here imports Airflow: the DAG file does, and calls these with what Airflow knows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.project import configure_project
from kedro.framework.session import KedroSession
from mlflow.entities import RunStatus

from imdb_sentiment.hooks import describe_run


@dataclass(frozen=True)
class KedroProject:
    """Where the project is and how the DAG runs it (what ``kedro airflow create`` was given)."""

    package_name: str
    project_path: Path
    env: str | None = None
    pipeline_name: str = "__default__"
    conf_source: str | None = None  # None: ``<project_path>/conf``

    @contextmanager
    def session(self, runtime_params: dict[str, Any] | None = None) -> Iterator[KedroSession]:
        """A fresh session, run from the project folder (the catalog's paths are relative)."""
        before = Path.cwd()
        os.chdir(self.project_path)
        try:
            configure_project(self.package_name)
            with KedroSession.create(
                project_path=self.project_path,
                env=self.env,
                conf_source=self.conf_source or None,
                runtime_params=runtime_params or {},
            ) as session:
                yield session
        finally:
            os.chdir(before)

    def open_mlflow_run(
        self, runtime_params: dict[str, Any] | None = None, tags: dict[str, str] | None = None
    ) -> str:
        """Create the DAG run's MLflow run (RUNNING, not active here) and return its id."""
        runtime_params = runtime_params or {}
        with self.session(runtime_params) as session:
            context = session.load_context()  # kedro-mlflow: tracking URI, experiment
            experiment = mlflow.get_experiment_by_name(context.mlflow.tracking.experiment.name)
            name = describe_run(
                [self.pipeline_name],
                context.env or "local",
                context.params.get("training", {}),
                runtime_params.get("imdb_source"),
            )
            run = mlflow.MlflowClient().create_run(
                experiment.experiment_id, run_name=name, tags=tags or {}
            )
        return run.info.run_id

    def run_nodes(
        self,
        node_names: list[str],
        mlflow_run_id: str,
        runtime_params: dict[str, Any] | None = None,
    ) -> None:
        """Run ``node_names`` of the pipeline in a new session, logging to ``mlflow_run_id``.

        The run stays RUNNING after a node succeeds (the DAG run goes on) and is marked FAILED
        as soon as one fails; the teardown task decides its final status.
        """
        with self.session(runtime_params) as session:
            # kedro-mlflow sets MLflow up from mlflow.yml (URI, credentials, experiment) only when
            # no run is active: load the context first, then resume the run it will log to
            session.load_context()
            mlflow.start_run(run_id=mlflow_run_id)
            try:
                session.run(pipeline_names=[self.pipeline_name], node_names=node_names)
            except BaseException:
                mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
                raise
            mlflow.end_run(RunStatus.to_string(RunStatus.RUNNING))

    def close_mlflow_run(
        self,
        mlflow_run_id: str,
        succeeded: bool,
        runtime_params: dict[str, Any] | None = None,
    ) -> None:
        """Mark the DAG run's MLflow run FINISHED (every task succeeded) or FAILED.

        Each task's session tagged the run with its own nodes and command (kedro-mlflow);
        the run is the whole pipeline's, and says so.
        """
        with self.session(runtime_params) as session:
            session.load_context()  # kedro-mlflow: tracking URI
            client = mlflow.MlflowClient()
            tags = client.get_run(mlflow_run_id).data.tags
            client.set_tag(
                mlflow_run_id, "kedro_command", f"kedro run --pipeline={self.pipeline_name}"
            )
            if "node_names" in tags:
                client.delete_tag(mlflow_run_id, "node_names")
            status = RunStatus.FINISHED if succeeded else RunStatus.FAILED
            client.set_terminated(mlflow_run_id, RunStatus.to_string(status))
