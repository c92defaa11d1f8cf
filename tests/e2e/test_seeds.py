"""`kedro seeds`: several training seeds of one configuration, grouped in MLflow, summarised."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from imdb_sentiment.cli import cli
from tests.e2e.kedro_runs import FAST_TRAINING, copy_trained, inside, runs_of

pytestmark = pytest.mark.slow


def test_two_seeds_are_grouped_and_summarised(trained_project: Path, tmp_path: Path) -> None:
    project = copy_trained(trained_project, tmp_path / "project", with_store=False)
    params = ",".join(f"{key}={value}" for key, value in FAST_TRAINING.items())
    with inside(project):
        result = CliRunner().invoke(
            cli, ["seeds", "--seeds", "5,6", "--reuse-data", "--params", params]
        )
    assert result.exit_code == 0, result.output
    runs = runs_of(project)
    assert [run.data.params["training.seed"] for run in runs] == ["5", "6"]
    assert all(run.info.status == "FINISHED" for run in runs)
    groups = {run.data.tags["seed_group"] for run in runs}
    assert len(groups) == 1
    assert all(run.info.run_name.startswith("training+evaluate · local") for run in runs)
    summary = json.loads((project / "data/08_reporting/seeds_summary.json").read_text())
    assert summary["seeds"] == [5, 6] and summary["seed_group"] == groups.pop()
    accuracies = [run.data.metrics["test_accuracy"] for run in runs]
    assert summary["test_accuracy"]["mean"] == pytest.approx(sum(accuracies) / 2)
    assert summary["test_accuracy"]["n"] == 2
    for name in ("tfidf_lr", "nbsvm"):
        baseline = summary["baselines"][name]
        assert baseline["same_in_every_run"]  # only training.seed varied
        assert baseline["test_accuracy"] == runs[0].data.metrics[f"baseline_{name}_test_accuracy"]
    assert "± " in (project / "data/08_reporting/seeds_summary.md").read_text()


def test_training_seed_is_refused_as_a_parameter(trained_project: Path) -> None:
    with inside(trained_project):
        result = CliRunner().invoke(cli, ["seeds", "--params", "training.seed=3"])
    assert result.exit_code != 0
    assert "training.seed is what `kedro seeds` varies" in result.output
