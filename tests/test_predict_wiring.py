"""How the predict pipeline, the epoch logger and the run-time parameters are wired in."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
from kedro.framework.project import find_pipelines

from imdb_sentiment.datasets.epoch_logger import EpochLoggerDataset
from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.parameters import validate_parameters
from imdb_sentiment.pipeline_registry import register_pipelines
from tests.conftest import project_config
from tests.e2e.kedro_runs import nested


def test_predict_runs_only_when_asked() -> None:
    from kedro.framework.project import configure_project  # noqa: PLC0415

    configure_project("imdb_sentiment")
    pipelines = register_pipelines()
    assert {node.name for node in pipelines["predict"].nodes} == {"predict_reviews"}
    default = {node.name for node in pipelines["__default__"].nodes}
    assert "predict_reviews" not in default
    assert "train_sentiment_model" in default
    assert set(find_pipelines()) - {"__default__"} == set(pipelines) - {"__default__"}


def test_the_scoring_model_reads_the_files_training_writes() -> None:
    catalog = project_config()["catalog"]
    scoring = catalog["scoring_model"]
    assert scoring["checkpoint"]["filepath"] == catalog["model_checkpoint"]["filepath"]
    assert scoring["vocabulary"]["filepath"] == catalog["vocabulary"]["filepath"]


@pytest.mark.parametrize(
    "runtime",
    [
        {"predict_source": "/data/new.csv"},
        {"model_uri": "models:/imdb-sentiment@champion"},
        {"model_uri": "runs:/0123/sentiment_model", "predict_source": "reviews/"},
        # a session created in Python may pass a Path
        {"predict_source": Path("/data/new.csv"), "extra_test_source": Path("/data/extra.csv")},
    ],
)
def test_predict_source_and_model_uri_are_accepted_from_the_command_line(runtime) -> None:
    loader = project_config("base", runtime)
    assert validate_parameters(loader["parameters"], runtime, loader["catalog"], "base") == []
    assert loader["catalog"]["model_checkpoint"]["model_uri"] == runtime.get("model_uri")


@pytest.mark.parametrize(
    ("runtime", "key", "problem"),
    [
        ({"predict_source": 5}, "predict_source", "must be a path or URI, got 5"),
        ({"predict.chunk_size": 0}, "predict.chunk_size", "must be >= 1"),
        ({"predict.workers": 2}, "predict.workers", "did you mean n_workers?"),
    ],
)
def test_bad_predict_parameters_name_their_key(runtime, key, problem) -> None:
    runtime = nested(runtime)
    loader = project_config("base", runtime)
    with pytest.raises(SettingsError) as raised:
        validate_parameters(loader["parameters"], runtime, loader["catalog"], "base")
    assert raised.value.key == key
    assert problem in raised.value.problem


def test_the_epoch_logger_writes_to_the_active_run_and_is_silent_without_one(tmp_path) -> None:
    log = EpochLoggerDataset().load()
    log({"epoch": 1, "valid_accuracy": 0.5})  # no active run: nothing, no error
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("epochs")  # not whichever an earlier test set
        with mlflow.start_run(experiment_id=experiment) as run:
            log({"epoch": 1, "valid_accuracy": 0.5, "best_epoch": 1, "stop": "text"})
            log({"epoch": 2, "valid_accuracy": 0.75, "best_epoch": 2})
        client = mlflow.MlflowClient()
        history = client.get_metric_history(run.info.run_id, "valid_accuracy")
        assert [(m.step, m.value) for m in history] == [(1, 0.5), (2, 0.75)]
        assert "stop" not in client.get_run(run.info.run_id).data.metrics
    finally:
        mlflow.set_tracking_uri(None)
