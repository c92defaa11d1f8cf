"""`kedro run --pipelines=predict`: new reviews scored as the served model scores them, from the
local checkpoint or from the registry, rows that cannot be scored listed and left out."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.e2e.kedro_runs import copy_trained, kedro_cli, kedro_run, runs_of, tracking_uri

pytestmark = pytest.mark.slow

CHAMPION = "models:/imdb-sentiment@champion"


@pytest.fixture(scope="module")
def project(trained_project: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy with the trained project's MLflow store: its runs stay as the other tests expect."""
    return copy_trained(trained_project, tmp_path_factory.mktemp("predict") / "project")


@pytest.fixture(scope="module")
def new_reviews(project: Path) -> tuple[Path, pd.DataFrame]:
    """60 real reviews with their ids as a csv, one of them emptied."""
    reviews = pd.read_parquet(project / "data/01_raw/imdb_sample/test.parquet").head(60)
    reviews = reviews[["id", "text"]].reset_index(drop=True)
    reviews.loc[7, "text"] = ""
    path = project / "new_reviews.csv"
    reviews.to_csv(path, index=False)
    return path, reviews


def served_probabilities(project: Path, texts: list[str]) -> np.ndarray:
    mlflow.set_tracking_uri(tracking_uri(project))
    try:
        served = mlflow.pyfunc.load_model(CHAMPION)
        return served.predict(pd.DataFrame({"text": texts}))["probability"].to_numpy()
    finally:
        mlflow.set_tracking_uri(None)


def test_the_command_scores_a_csv_with_the_served_models_code(project, new_reviews) -> None:
    source, reviews = new_reviews
    done = kedro_cli(project, "run", "--pipelines=predict", f"--params=predict_source={source}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "1 of 60 rows of" in done.stdout and "row 7 (id" in done.stdout

    output = project / "data" / "07_model_output"
    predictions = pd.read_parquet(output / "predictions.parquet")
    assert list(predictions.columns) == ["id", "text", "probability", "label"]
    assert predictions["id"].tolist() == reviews["id"].astype(str).drop(index=7).tolist()
    as_csv = pd.read_csv(output / "predictions.csv", dtype={"id": str})
    np.testing.assert_allclose(as_csv["probability"], predictions["probability"])
    rejects = pd.read_csv(output / "prediction_rejects.csv")
    assert rejects.to_dict("list") == {"row": [7], "id": [reviews["id"][7]], "reason": ["empty"]}

    expected = served_probabilities(project, predictions["text"].tolist())
    np.testing.assert_allclose(predictions["probability"], expected, rtol=1e-5, atol=1e-6)
    assert predictions["label"].tolist() == (expected >= 0.5).astype(int).tolist()

    run = runs_of(project)[-1]
    assert run.info.run_name.startswith("predict · local · ")
    assert run.data.tags["trained_in_run_id"] == runs_of(project)[0].info.run_id
    summary = json.loads((project / "data/08_reporting/prediction_summary.json").read_text())
    assert (summary["rows"], summary["scored"], summary["rejected"]) == (60, 59, 1)


def test_a_registered_model_scores_by_its_uri(project, new_reviews) -> None:
    source, reviews = new_reviews
    kedro_run(
        project,
        pipeline_names=["predict"],
        runtime_params={"predict_source": str(source), "model_uri": CHAMPION},
    )
    predictions = pd.read_parquet(project / "data/07_model_output/predictions.parquet")
    assert len(predictions) == 59
    expected = served_probabilities(project, predictions["text"].tolist())
    np.testing.assert_allclose(predictions["probability"], expected, rtol=1e-5, atol=1e-6)
    run = runs_of(project)[-1]
    assert CHAMPION in run.info.run_name


def test_evaluate_takes_a_model_uri(project) -> None:
    kedro_run(project, pipeline_names=["evaluate"], runtime_params={"model_uri": CHAMPION})
    run = runs_of(project)[-1]
    assert run.info.run_name.startswith(f"evaluate · local · {CHAMPION}")
    assert run.data.tags["trained_in_run_id"] == runs_of(project)[0].info.run_id
    assert 0.5 <= run.data.metrics["test_accuracy"] <= 1.0
