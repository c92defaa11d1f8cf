"""The served model logged to run anywhere, registered, and the champion alias moved only on a
better validation accuracy; evaluate and predict load it back by URI. A real SQLite store."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import yaml
from kedro.io import DatasetError

from imdb_sentiment.datasets.scoring_model import ScoringModelDataset
from imdb_sentiment.datasets.served_model import ServedModelDataset
from imdb_sentiment.datasets.torch_checkpoint import TorchCheckpointDataset
from imdb_sentiment.registry import (
    CHAMPION,
    MODEL_NAME,
    ModelNotFoundError,
    current_champion,
    load_served_model,
    register_version,
)
from imdb_sentiment.serving import SentimentModel
from tests.conftest import tiny_served_model


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """One SQLite store and one logged served model (logging one takes seconds)."""
    root = tmp_path_factory.mktemp("registry")
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    experiment = mlflow.create_experiment("registry", artifact_location=str(root / "artifacts"))
    dataset = ServedModelDataset(save_args={"name": "sentiment_model"})
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.set_tags({"data_source": "data/01_raw/imdb_sample", "git_commit": "abc123"})
        dataset.save(tiny_served_model())
    yield dataset, run
    mlflow.set_tracking_uri(None)


def test_the_logged_model_carries_its_code_pinned_requirements_and_signature(store) -> None:
    dataset, _ = store
    local = Path(mlflow.artifacts.download_artifacts(dataset.model_info.model_uri))
    assert (local / "code" / "imdb_sentiment" / "serving.py").is_file()
    requirements = (local / "requirements.txt").read_text().split()
    assert {r.split("==")[0] for r in requirements} >= {"torch", "spacy", "mlflow", "numpy"}
    assert not any(r.startswith("imdb-sentiment") for r in requirements)
    flavor = yaml.safe_load((local / "MLmodel").read_text())
    assert flavor["flavors"]["python_function"]["code"] == "code"
    assert "probability" in flavor["signature"]["outputs"]


def test_the_first_version_is_registered_as_champion_with_its_tags(store) -> None:
    dataset, run = store
    registration = dataset.registration
    assert (registration.version, registration.promoted) == ("1", True)
    version = mlflow.MlflowClient().get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert str(version.version) == "1"
    assert float(version.tags["best_valid_accuracy"]) == 0.75
    assert version.tags["data_source"] == "data/01_raw/imdb_sample"
    assert version.tags["git_commit"] == "abc123"
    assert version.tags["run_id"] == run.info.run_id
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert (tags["registered_model_version"], tags["registered_as_champion"]) == ("1", "true")


def test_the_champion_moves_only_to_a_better_validation_accuracy(store) -> None:
    dataset, _ = store
    uri = dataset.model_info.model_uri
    client = mlflow.MlflowClient()
    worse = register_version(uri, 0.70, {})
    tie = register_version(uri, 0.75, {})
    assert not worse.promoted and not tie.promoted
    assert current_champion(client) == ("1", 0.75)
    better = register_version(uri, 0.80, {})
    assert better.promoted and better.previous_champion == "1"
    assert current_champion(client) == (better.version, 0.80)


def test_a_champion_without_an_accuracy_tag_is_never_replaced(store) -> None:
    dataset, _ = store
    client = mlflow.MlflowClient()
    name = "hand-picked"
    first = register_version(dataset.model_info.model_uri, 0.5, {}, name=name)
    client.delete_model_version_tag(name, first.version, "best_valid_accuracy")
    second = register_version(dataset.model_info.model_uri, 0.99, {}, name=name)
    assert not second.promoted
    assert current_champion(client, name) == (first.version, None)


def test_models_load_back_by_alias_for_predict_and_evaluate(store) -> None:
    uri = f"models:/{MODEL_NAME}@{CHAMPION}"
    model = load_served_model(uri)
    assert isinstance(model, SentimentModel)
    scoring = ScoringModelDataset(
        checkpoint={"filepath": "unused"}, vocabulary={"filepath": "unused"}, model_uri=uri
    ).load()
    assert scoring.threshold == 0.5  # a registered model keeps its own
    checkpoint = TorchCheckpointDataset(filepath="unused", model_uri=uri).load()
    assert checkpoint["best_valid_accuracy"] == model.checkpoint["best_valid_accuracy"]


def test_a_model_uri_that_names_nothing_is_a_clear_error(store) -> None:
    with pytest.raises(ModelNotFoundError, match=r"model_uri 'models:/nope@champion': no "):
        load_served_model("models:/nope@champion")
    dataset = TorchCheckpointDataset(filepath="unused", model_uri="models:/nope@champion")
    with pytest.raises(DatasetError, match="`kedro run` trains and registers imdb-sentiment"):
        dataset.load()
    with pytest.raises(DatasetError, match="model_uri is set"):
        dataset.save({})
