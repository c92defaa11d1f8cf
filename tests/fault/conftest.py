"""Fixtures of the fault suite: the fork server, a trained project to break, its DAG."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro_mlflow.io.models import MlflowModelTrackingDataset

from tests.conftest import copy_project
from tests.e2e.kedro_runs import FAST_TRAINING, inside
from tests.fault.harness import ForkServer, copy_tree, unreadable

# `--params` as the command line takes them
FAST_PARAMS = ",".join(f"{key}={value}" for key, value in FAST_TRAINING.items())


@pytest.fixture(scope="session")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    server = ForkServer(tmp_path_factory.mktemp("fault_logs"))
    yield server
    server.close()


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer) -> Path:
    """A project after one whole `kedro run`: every output present, one FINISHED run."""
    project = copy_project(tmp_path_factory.mktemp("fault_template") / "project")
    run = fork_server.run(project, f"--params={FAST_PARAMS}")
    assert run.returncode == 0, run.output[-5000:]
    assert not unreadable(project)
    return project


@pytest.fixture
def trained_project(trained_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the trained project for one test to break."""
    return copy_tree(trained_template, tmp_path / "project")


@dataclass(frozen=True)
class Output:
    """A node output kept in a file: what writes it, where, with which dataset class."""

    node: str
    dataset: str
    kind: str  # the dataset class's name
    filename: str


@dataclass(frozen=True)
class Dag:
    nodes: list[str]  # in the order a run runs them
    outputs: list[Output]
    model_logging_node: str  # the node whose output logs a model to MLflow


@pytest.fixture(scope="session")
def dag(trained_template: Path) -> Dag:
    """The default pipeline's nodes and file outputs, read from the project's own Kedro setup
    (so that the suite follows renamed nodes and datasets)."""
    with inside(trained_template):
        bootstrap_project(trained_template)
        with KedroSession.create(project_path=trained_template) as session:
            catalog = session.load_context().catalog
            pipeline = pipelines["__default__"]
            outputs, model_logging = [], []
            for node in pipeline.nodes:
                for name in node.outputs:
                    dataset = catalog.get(name)
                    filepath = getattr(dataset, "_filepath", None)
                    if filepath and Path(filepath).name:  # a file (MLflow's models have none)
                        outputs.append(
                            Output(node.name, name, type(dataset).__name__, Path(filepath).name)
                        )
                    if isinstance(dataset, MlflowModelTrackingDataset):
                        model_logging.append(node.name)
    (model_logging_node,) = model_logging
    return Dag([node.name for node in pipeline.nodes], outputs, model_logging_node)
