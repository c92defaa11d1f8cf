"""The whole DAG on the bundled sample, then evaluate alone, MLflow records, the served model."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.e2e.kedro_runs import copy_trained, kedro_run, runs_of, tracking_uri

pytestmark = pytest.mark.slow


def test_every_layer_is_written(trained_project: Path) -> None:
    data = trained_project / "data"
    for split in ("train", "valid", "test"):
        assert (data / "02_intermediate" / f"{split}_reviews.parquet").is_file()
        assert (data / "02_intermediate" / f"{split}_tokens.parquet").is_file()
        assert (data / "05_model_input" / f"{split}_ids.npz").is_file()
    vocabulary = json.loads((data / "03_primary" / "vocabulary.json").read_text())
    matrix = np.load(data / "05_model_input" / "embedding_matrix.npy")
    assert matrix.shape == (len(vocabulary["itos"]), 50)
    assert not matrix[vocabulary["pad_index"]].any()
    assert len(list((data / "06_models" / "model_checkpoint.pt").iterdir())) == 1  # one version
    predictions = pd.read_parquet(data / "07_model_output" / "test_predictions.parquet")
    test = pd.read_parquet(data / "02_intermediate" / "test_reviews.parquet")
    assert sorted(predictions["id"]) == sorted(test["id"])
    assert predictions["probability"].between(0, 1).all()
    metrics = json.loads((data / "08_reporting" / "test_metrics.json").read_text())
    assert metrics["n"] == len(test)
    assert metrics["accuracy_ci95_low"] < metrics["accuracy"] < metrics["accuracy_ci95_high"]
    for plot in ("training_curves", "confusion_matrix", "roc_curve"):
        assert (data / "08_reporting" / f"{plot}.png").stat().st_size > 1000


def test_mlflow_records_the_run(trained_project: Path) -> None:
    run = runs_of(trained_project)[0]
    assert run.info.status == "FINISHED"
    assert run.info.run_name.startswith("all · local · bilstm-1x16-max_mean")
    params = run.data.params
    assert params["training.model.bilstm.hidden_dim"] == "16"
    assert params["training.epochs"] == "2"
    assert int(params["vocabulary_size"]) > 1000
    assert params["glove_dim"] == "50"
    assert params["device"] == "cpu"
    client = mlflow.MlflowClient(tracking_uri(trained_project))
    history = client.get_metric_history(run.info.run_id, "valid_accuracy")
    assert [metric.step for metric in history] == [1, 2]
    assert 0.5 <= run.data.metrics["test_accuracy"] <= 1.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        "plots/training_curves.png",
        "plots/confusion_matrix.png",
        "plots/roc_curve.png",
    }
    evaluation = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert "evaluation/test_metrics.json" in evaluation


def test_served_model_scores_raw_text(trained_project: Path) -> None:
    run = runs_of(trained_project)[0]
    mlflow.set_tracking_uri(tracking_uri(trained_project))
    try:
        models = mlflow.search_logged_models(
            experiment_ids=[run.info.experiment_id], output_format="list"
        )
        assert [m.name for m in models] == ["sentiment_model"]
        served = mlflow.pyfunc.load_model(models[0].model_uri)
        inputs = served.metadata.get_input_schema().to_dict()
        assert inputs == [{"type": "string", "name": "text", "required": True}]
        reviews = pd.DataFrame(
            {"text": ["A wonderful, moving film.<br /><br />Loved it!", "Dull and far too long."]}
        )
        scored = served.predict(reviews)
    finally:
        mlflow.set_tracking_uri(None)
    assert list(scored.columns) == ["probability", "label"]
    assert len(scored) == 2
    assert scored["probability"].between(0, 1).all()
    assert set(scored["label"]) <= {0, 1}


def test_evaluate_runs_alone_from_stored_artifacts(trained_project: Path, tmp_path: Path) -> None:
    # Its own copy of the trained project, with an MLflow store of its own: the shared
    # fixture keeps its files and its one run for the other tests.
    project = copy_trained(trained_project, tmp_path / "project", with_store=False)
    metrics_file = project / "data" / "08_reporting" / "test_metrics.json"
    metrics_file.unlink()
    model_versions = sorted((project / "data" / "06_models" / "model_checkpoint.pt").iterdir())

    kedro_run(project, pipeline_names=["evaluate"])

    assert json.loads(metrics_file.read_text())["n"] > 0
    assert (
        sorted((project / "data" / "06_models" / "model_checkpoint.pt").iterdir()) == model_versions
    )
    (training_run,) = runs_of(trained_project)
    (evaluate_run,) = runs_of(project)
    assert evaluate_run.info.status == "FINISHED"
    assert evaluate_run.info.run_name.startswith("evaluate · local")
    assert evaluate_run.data.tags["trained_in_run_id"] == training_run.info.run_id
    assert "test_accuracy" in evaluate_run.data.metrics
    assert "valid_accuracy" not in evaluate_run.data.metrics
    assert (trained_project / "data" / "08_reporting" / "test_metrics.json").is_file()
