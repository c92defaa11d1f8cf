"""notebooks/imdb_sentiment.ipynb runs headless against a trained copy of the project."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.e2e.kedro_runs import copy_trained, inside

pytestmark = pytest.mark.slow

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "imdb_sentiment.ipynb"


def test_the_notebook_is_committed_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_the_notebook_runs_on_a_trained_project(trained_project: Path, tmp_path: Path) -> None:
    project = copy_trained(trained_project, tmp_path / "project")
    (project / "notebooks").mkdir(exist_ok=True)
    notebook_path = Path(shutil.copy(NOTEBOOK, project / "notebooks"))
    notebook = nbformat.read(notebook_path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(project / "notebooks")}},
    )
    with inside(project):
        client.execute()  # raises CellExecutionError naming the cell that failed

    text = "\n".join(
        output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
    )
    assert "misclassified at threshold" in text
    assert "all · local · bilstm-1x16-max_mean" in text  # the training run in the runs table
    assert "sqlite:///" in text  # the project's store, set through the Kedro session
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= 4  # lengths, curves, probabilities, runs
