"""`kedro viz build` succeeds and its output lists every node and dataset of the DAG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

pytestmark = pytest.mark.slow


def test_viz_build_lists_every_node_and_dataset(project_copy: Path) -> None:
    kedro = Path(sys.executable).with_name("kedro")
    done = subprocess.run(
        [str(kedro), "viz", "build"],
        cwd=project_copy,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    graph = json.loads((project_copy / "build" / "api" / "main").read_text())
    names = {node["name"] for node in graph["nodes"]}
    layers = {node.get("layer") for node in graph["nodes"] if node["type"] == "data"}

    bootstrap_project(project_copy)
    pipeline = pipelines["__default__"]
    assert {node.name for node in pipeline.nodes} <= names
    datasets = {name for name in pipeline.datasets() if not name.startswith("params:")}
    assert datasets <= names
    assert {"raw", "intermediate", "primary", "model_input", "models", "reporting"} <= layers
