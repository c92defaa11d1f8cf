"""`kedro viz build --include-previews` succeeds, lists every node and dataset of the DAG by
layer, and previews the parquet and JSON datasets of a trained project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from tests.e2e.kedro_runs import copy_trained, kedro_cli

pytestmark = pytest.mark.slow

TABLES = ("train_reviews", "test_reviews", "test_predictions", "test_baseline_predictions")
JSON = (
    "vocabulary",
    "glove_coverage",
    "training_history",
    "training_summary",
    "test_metrics",
    "split_report",
    "model_comparison",
)


def test_viz_build_lists_every_node_and_previews_the_data(
    trained_project: Path, tmp_path: Path
) -> None:
    project = copy_trained(trained_project, tmp_path / "project", with_store=False)
    done = kedro_cli(project, "viz", "build", "--include-previews", timeout=300)
    output = done.stdout + done.stderr
    # kedro viz build exits 0 even when it fails (e.g. a preview it cannot serialise)
    assert done.returncode == 0 and "Failed to build" not in output, output[-3000:]
    assert "circular dependency" not in output  # layers would be dropped
    api = project / "build" / "api"
    graph = json.loads((api / "main").read_text())
    names = {node["name"] for node in graph["nodes"]}
    layers = {node.get("layer") for node in graph["nodes"] if node["type"] == "data"}

    bootstrap_project(project)
    pipeline = pipelines["__default__"]
    assert {node.name for node in pipeline.nodes} <= names
    datasets = {name for name in pipeline.datasets() if not name.startswith("params:")}
    assert datasets <= names
    assert {"raw", "intermediate", "primary", "model_input", "models", "reporting"} <= layers
    assert (api / "pipelines" / "predict").is_file()

    previews = {}
    for node in graph["nodes"]:
        if node["type"] == "data" and node["name"] in TABLES + JSON:
            previews[node["name"]] = json.loads((api / "nodes" / node["id"]).read_text())
    for name in TABLES:
        assert previews[name]["preview_type"] == "TablePreview", name
        assert len(previews[name]["preview"]["data"]) == 5
    for name in JSON:
        assert previews[name]["preview_type"] == "JSONPreview", name
        assert json.loads(previews[name]["preview"])
    assert len(json.loads(previews["vocabulary"]["preview"])["itos"]) == 30
