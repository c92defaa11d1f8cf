"""Running the project in a copy, the way `kedro run` does, through a KedroSession."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

# A tiny model and one epoch: the whole DAG on the bundled sample in well under a minute.
FAST_TRAINING = {
    "training.epochs": 2,
    "training.model.bilstm.hidden_dim": 16,
    "training.max_length": 60,
    "training.batch_size": 64,
    "training.progress": False,
}


@contextmanager
def inside(project: Path):
    """Relative paths (``sqlite:///mlflow.db``) resolve in the copy, as with `kedro run` there."""
    before = Path.cwd()
    os.chdir(project)
    try:
        yield
    finally:
        os.chdir(before)
        mlflow.set_tracking_uri(None)


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` as ``{"a": {"b": 1}}``, as `kedro run --params a.b=1` builds it."""
    tree: dict[str, Any] = {}
    for key, value in dotted.items():
        *parents, leaf = key.split(".")
        node = tree
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return tree


def kedro_run(
    project: Path,
    pipeline_names: list[str] | None = None,
    runtime_params: dict[str, Any] | None = None,
    env: str | None = None,
) -> dict[str, Any]:
    """``kedro run`` in ``project``; returns what the session's run returned."""
    with inside(project):
        bootstrap_project(project)
        with KedroSession.create(
            project_path=project, env=env, runtime_params=nested(runtime_params or {})
        ) as session:
            return session.run(pipeline_names=pipeline_names)


def tracking_uri(project: Path) -> str:
    return f"sqlite:///{project / 'mlflow.db'}"


def runs_of(project: Path) -> list[mlflow.entities.Run]:
    """Every MLflow run of the project's experiment, oldest first."""
    client = mlflow.MlflowClient(tracking_uri(project))
    experiment = client.get_experiment_by_name("imdb_sentiment")
    if experiment is None:
        return []
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
    return list(runs)


def copy_trained(trained: Path, destination: Path, with_store: bool = True) -> Path:
    """A copy of a trained project; with its MLflow store (runs, registry) or with an empty one.

    The copied store still keeps its artifacts in the trained project's ``mlartifacts`` (the
    experiment's location is absolute); runs added to the copy never reach the original's store.
    """
    ignored = () if with_store else ("mlflow.db", "mlartifacts")
    project = shutil.copytree(trained, destination, ignore=shutil.ignore_patterns(*ignored))
    (project / "conf" / "local" / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: {tracking_uri(project)}\n"
    )
    return project


def command_in(
    project: Path, argv: list[str], timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``argv`` run in ``project`` as a user would type it with the venv activated (its bin on
    PATH), one log record per line (wide columns); output captured as text."""
    bin_dir = Path(sys.executable).parent
    environment = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "COLUMNS": "250",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **(env or {}),
    }
    return subprocess.run(
        argv,
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def kedro_cli(
    project: Path, *arguments: str, timeout: float = 900, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`kedro ARGUMENTS` in ``project``, colours off."""
    kedro = str(Path(sys.executable).with_name("kedro"))
    return command_in(project, [kedro, *arguments], timeout, {"NO_COLOR": "1", **(env or {})})


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)")


def plain(text: str) -> str:
    """Terminal output without colours, hyperlinks and carriage returns."""
    return ANSI.sub("", text).replace("\r", "\n")
