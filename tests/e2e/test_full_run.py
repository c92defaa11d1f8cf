"""The whole DAG on the bundled sample, then evaluate alone, MLflow records, the served model."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.datasets.torch_checkpoint import TorchCheckpointDataset
from imdb_sentiment.datasets.vocabulary import VocabularyDataset
from imdb_sentiment.serving import SentimentModel
from tests.conftest import PROJECT_ROOT
from tests.e2e.kedro_runs import copy_trained, kedro_run, runs_of, tracking_uri

pytestmark = pytest.mark.slow

FULL_IMDB = PROJECT_ROOT.parent / "shared" / "data" / "imdb" / "test.parquet"


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
    for plot in (
        "training_curves",
        "confusion_matrix",
        "roc_curve",
        "reliability_diagram",
        "model_comparison",
    ):
        assert (data / "08_reporting" / f"{plot}.png").stat().st_size > 1000
    assert {"ece", "ece_uncalibrated", "log_loss_uncalibrated"} <= set(metrics)
    for baseline in ("tfidf_lr", "nbsvm"):
        assert (data / "06_models" / f"{baseline}_baseline.npz").is_file()


def test_clean_splits_and_their_report(trained_project: Path) -> None:
    report = json.loads((trained_project / "data/08_reporting/split_report.json").read_text())
    # the bundled sample: 4,500 train reviews, one also in test, two repeats
    assert (report["train_published"], report["train_in_test"], report["train_repeated"]) == (
        4500,
        1,
        2,
    )
    assert report["train"] + report["valid"] == 4497 and report["test"] == 2000
    assert report["valid_in_train"] == report["test_in_train"] == report["test_in_valid"] == 0


def test_the_model_and_the_baselines_side_by_side(trained_project: Path) -> None:
    reporting = trained_project / "data" / "08_reporting"
    comparison = json.loads((reporting / "model_comparison.json").read_text())
    assert comparison["model"] == "bilstm-1x16-max_mean"
    test = comparison["test"]
    assert test["n"] == 2000 and set(test["models"]) == {"model", "tfidf_lr", "nbsvm"}
    metrics = json.loads((reporting / "test_metrics.json").read_text())
    assert test["models"]["model"]["accuracy"] == metrics["accuracy"]  # the same metrics code
    # 4,047 real training reviews: the linear baselines are far above chance
    assert test["models"]["tfidf_lr"]["accuracy"] > 0.85
    assert test["models"]["nbsvm"]["accuracy"] > 0.85
    assert 0 <= test["paired"]["tfidf_lr"]["mcnemar_p_value"] <= 1
    table = (reporting / "model_comparison.md").read_text()
    assert "| tfidf_lr (linear baseline) |" in table and "| bilstm-1x16-max_mean |" in table


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
    for name in (
        "test_ece",
        "test_ece_uncalibrated",
        "baseline_tfidf_lr_test_accuracy",
        "baseline_nbsvm_test_ece",
        "test_mcnemar_p_tfidf_lr",
        "test_accuracy_minus_nbsvm",
    ):
        assert name in run.data.metrics, name
    assert float(params["temperature"]) > 0
    assert float(params["baseline.tfidf_lr.C"]) > 0 and "baseline.nbsvm.beta" in params
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert artifacts == {
        "plots/training_curves.png",
        "plots/confusion_matrix.png",
        "plots/roc_curve.png",
        "plots/reliability_diagram.png",
        "plots/model_comparison.png",
    }
    evaluation = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {
        "evaluation/test_metrics.json",
        "evaluation/model_comparison.json",
        "evaluation/model_comparison.md",
    } <= evaluation
    assert [a.path for a in client.list_artifacts(run.info.run_id, "data")] == [
        "data/split_report.json"
    ]


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
    # raw text in: the calibrated probabilities evaluate computed for the same test reviews
    data = trained_project / "data"
    test = pd.read_parquet(data / "02_intermediate" / "test_reviews.parquet").head(6)
    evaluated = pd.read_parquet(data / "07_model_output" / "test_predictions.parquet")
    expected = evaluated.set_index("id").loc[test["id"]]
    np.testing.assert_allclose(
        served.predict(pd.DataFrame({"text": test["text"]}))["probability"],
        expected["probability"],
        atol=1e-5,
    )
    assert not np.allclose(expected["probability"], expected["probability_uncalibrated"])


def extra_reviews(path: Path, count: int = 60) -> Path:
    """``count`` real IMDB test reviews the bundled sample does not hold, as a CSV (from the
    full IMDB beside the checkout, else from the sample's own test split)."""
    sample = pd.read_parquet(PROJECT_ROOT / "data/01_raw/imdb_sample/test.parquet")
    if FULL_IMDB.is_file():
        full = pd.read_parquet(FULL_IMDB, columns=["text", "label"])
        reviews = full[~full["text"].isin(set(sample["text"]))]
    else:
        reviews = sample[["text", "label"]]
    chosen = pd.concat(
        [reviews[reviews["label"] == label].sample(count // 2, random_state=1) for label in (0, 1)]
    )
    chosen.to_csv(path, index=False)
    return path


def test_evaluate_runs_alone_from_stored_artifacts(trained_project: Path, tmp_path: Path) -> None:
    project = copy_trained(trained_project, tmp_path / "project", with_store=False)
    metrics_file = project / "data" / "08_reporting" / "test_metrics.json"
    metrics_file.unlink()
    model_versions = sorted((project / "data" / "06_models" / "model_checkpoint.pt").iterdir())
    baselines = {p.name: p.read_bytes() for p in (project / "data/06_models").glob("*.npz")}

    kedro_run(project, pipeline_names=["evaluate"])

    assert json.loads(metrics_file.read_text())["n"] > 0
    assert (
        sorted((project / "data" / "06_models" / "model_checkpoint.pt").iterdir()) == model_versions
    )
    assert {p.name: p.read_bytes() for p in (project / "data/06_models").glob("*.npz")} == (
        baselines
    )
    (training_run,) = runs_of(trained_project)
    (evaluate_run,) = runs_of(project)
    assert evaluate_run.info.status == "FINISHED"
    assert evaluate_run.info.run_name.startswith("evaluate · local")
    assert evaluate_run.data.tags["trained_in_run_id"] == training_run.info.run_id
    assert evaluate_run.data.tags["trained_in_run_name"] == training_run.info.run_name
    # this copy has an MLflow store of its own, which has never seen the training run
    assert evaluate_run.data.tags["trained_in_run_status"] == "MISSING"
    assert "test_accuracy" in evaluate_run.data.metrics
    assert "baseline_tfidf_lr_test_accuracy" in evaluate_run.data.metrics
    assert (
        evaluate_run.data.metrics["baseline_tfidf_lr_test_accuracy"]
        == (training_run.data.metrics["baseline_tfidf_lr_test_accuracy"])
    )
    assert "valid_accuracy" not in evaluate_run.data.metrics
    assert not any(name.startswith("extra_test") for name in evaluate_run.data.metrics)
    assert (trained_project / "data" / "08_reporting" / "test_metrics.json").is_file()


def test_evaluate_scores_an_extra_labelled_set(trained_project: Path, tmp_path: Path) -> None:
    project = copy_trained(trained_project, tmp_path / "project", with_store=False)
    source = extra_reviews(tmp_path / "extra.csv")

    kedro_run(project, pipeline_names=["evaluate"], runtime_params={"extra_test_source": source})

    (run,) = runs_of(project)
    assert run.data.tags["extra_test_source"] == str(source)
    for name in ("extra_test_accuracy", "extra_test_ece", "baseline_nbsvm_extra_test_accuracy"):
        assert 0 <= run.data.metrics[name] <= 1, name
    assert "extra_test_mcnemar_p_tfidf_lr" in run.data.metrics
    reporting = project / "data" / "08_reporting"
    comparison = json.loads((reporting / "model_comparison.json").read_text())
    assert comparison["extra_test"]["n"] == 60
    assert comparison["extra_test"]["models"]["tfidf_lr"]["accuracy"] > 0.7
    assert "## extra_test (60 reviews)" in (reporting / "model_comparison.md").read_text()
    # tokenized as the served model tokenizes: the same probabilities for the same texts
    texts = pd.read_csv(source)["text"]
    predictions = pd.read_parquet(project / "data/07_model_output/extra_test_predictions.parquet")
    checkpoint = next((project / "data/06_models/model_checkpoint.pt").glob("*/*.pt"))
    served = SentimentModel(
        checkpoint=TorchCheckpointDataset(filepath=str(checkpoint)).load(),
        vocabulary=VocabularyDataset(
            filepath=str(project / "data/03_primary/vocabulary.json")
        ).load(),
    )
    np.testing.assert_allclose(
        served.predict(None, pd.DataFrame({"text": texts}))["probability"],
        predictions["probability"],
        atol=1e-5,
    )


def test_a_bad_extra_set_fails_naming_its_row(trained_project: Path, tmp_path: Path) -> None:
    project = copy_trained(trained_project, tmp_path / "project", with_store=False)
    source = tmp_path / "bad.jsonl"
    source.write_text('{"text": "Fine.", "label": 1}\n{"text": "Dull.", "label": "meh"}\n')
    metrics_before = (project / "data/08_reporting/test_metrics.json").read_bytes()
    with pytest.raises(Exception, match=r"bad.jsonl: row 1 \(line 2\): label 'meh'"):
        kedro_run(
            project, pipeline_names=["evaluate"], runtime_params={"extra_test_source": source}
        )
    (run,) = runs_of(project)
    assert run.info.status == "FAILED"
    assert (project / "data/08_reporting/test_metrics.json").read_bytes() == metrics_before
