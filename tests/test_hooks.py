"""The project's hooks: parameters checked before any node, MLflow run names and links."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import mlflow
import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from kedro.runner import SequentialRunner

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.hooks import (
    CHECKPOINT_DATASET,
    MlflowRunHooks,
    RunDescription,
    _runner_name,
    describe_run,
)
from imdb_sentiment.parameters import validate_parameters
from imdb_sentiment.pipelines.training import create_pipeline as training_pipeline
from tests.conftest import PROJECT_ROOT, copy_project, project_config
from tests.e2e.kedro_runs import inside, nested

MODEL = {
    "type": "bilstm",
    "bilstm": {"hidden_dim": 64, "num_layers": 1, "pooling": "max_mean"},
    "cnn": {"filter_sizes": [3, 4, 5], "num_filters": 100},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy whose context is created (never run) by the tests below."""
    return copy_project(tmp_path_factory.mktemp("hooks") / "project")


def create_context(project: Path, env: str | None = None, **runtime_params):
    """What `kedro run --env ENV --params ...` does up to the first hook, without running."""
    with inside(project):
        bootstrap_project(project)
        session = KedroSession.create(
            project_path=project, env=env, runtime_params=nested(runtime_params)
        )
        try:
            return session.load_context()
        finally:
            session.close()


def test_run_names_describe_each_architecture() -> None:
    name = describe_run(["all"], "local", {"model": MODEL}, "data/01_raw/imdb_sample/")
    assert name.startswith("all · local · bilstm-1x64-max_mean · imdb_sample · ")
    cnn = describe_run(["training", "evaluate"], "full", {"model": {**MODEL, "type": "cnn"}}, None)
    assert cnn.startswith("training+evaluate · full · cnn-3.4.5x100 · ")


@pytest.mark.parametrize("env", ["base", "full", "cpu_full"])
def test_the_shipped_configuration_is_valid(env: str) -> None:
    loader = project_config(env)
    assert validate_parameters(loader["parameters"], {}, loader["catalog"], env) == []


def test_cpu_full_is_base_on_the_full_imdb_with_fewer_epochs() -> None:
    base, cpu = project_config("base"), project_config("cpu_full")
    training = cpu["parameters"]["training"]
    assert training["model"] == base["parameters"]["training"]["model"]  # the 1x64 BiLSTM
    # the recipe chosen on validation, in both: whole reviews, adversarial embeddings, one thread
    for config in (training, base["parameters"]["training"]):
        assert (config["max_length"], config["adversarial_epsilon"]) == (None, 0.02)
        assert config["torch_threads"] == 1
    assert (training["epochs"], training["patience"]) == (6, 2)
    assert {k: v for k, v in training.items() if k not in ("epochs", "patience")} == {
        k: v for k, v in base["parameters"]["training"].items() if k not in ("epochs", "patience")
    }
    assert project_config("full")["parameters"]["training"]["adversarial_epsilon"] == 0.02
    assert cpu["catalog"]["imdb_raw"]["source"] == "hf://stanfordnlp/imdb"
    assert cpu["catalog"]["glove_vectors"] == base["catalog"]["glove_vectors"]  # GloVe 50d


@pytest.mark.parametrize(
    ("runtime_params", "key", "problem"),
    [
        ({"trainig.epochs": 1}, "trainig", "unknown setting (did you mean training?"),
        ({"features.min_frq": 2}, "features.min_frq", "did you mean min_freq?"),
        ({"training.learning_rate": "abc"}, "training.learning_rate", "must be a number"),
        ({"ingestion.seed": "x"}, "ingestion.seed", "must be an integer, got 'x'"),
        ({"seed": 1.5}, "seed", "must be an integer"),
        ({"features.max_size": 0}, "features.max_size", "must be >= 1"),
        ({"evaluate.threshold": 1.5}, "evaluate.threshold", "must be in [0, 1]"),
        ({"training.model.type": "gru"}, "training.model.type", "unknown model type 'gru'"),
        ({"glove_source": "/x/glove.6B.zip"}, "glove_source", "has no effect in environment"),
        ({"baselines.tfidf_lr.C": "x"}, "baselines.tfidf_lr.C", "must be a list"),
        (
            {"ingestion.drop_test_overlap_from_train": True},
            "ingestion.drop_test_overlap_from_train",
            "unknown setting",
        ),
        ({"evaluate.ece_bins": 0}, "evaluate.ece_bins", "must be >= 1"),
        (
            {"training.adversarial_epsilon": -0.02},
            "training.adversarial_epsilon",
            "must be a finite number >= 0",
        ),
    ],
)
def test_a_bad_parameter_stops_the_run_naming_its_key(
    project: Path, runtime_params: dict, key: str, problem: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        create_context(project, **runtime_params)
    assert raised.value.key == key
    assert problem in raised.value.problem
    assert "\n" not in str(raised.value)  # one line


def test_a_typo_in_another_pipelines_section_is_refused_whatever_runs(project: Path) -> None:
    # The check happens when the context is created, before any pipeline is chosen.
    with pytest.raises(SettingsError, match="training.epocs"):
        create_context(project, **{"training.epocs": 3})


def test_source_parameters_are_accepted_where_the_catalog_reads_them(project: Path) -> None:
    context = create_context(project, "full", glove_source="/x/glove.6B.zip")
    assert context.params["glove_source"] == "/x/glove.6B.zip"
    assert create_context(project, imdb_source="/x/parquet").params["imdb_source"] == "/x/parquet"
    context = create_context(project, extra_test_source="/x/reviews.csv")
    assert context.params["extra_test_source"] == "/x/reviews.csv"


def test_one_seed_reaches_every_section_and_training_can_differ(project: Path) -> None:
    params = create_context(project, seed=7).params
    assert (params["ingestion"]["seed"], params["features"]["seed"]) == (7, 7)
    assert params["training"]["seed"] == 7
    params = create_context(project, **{"training.seed": 3}).params
    assert (params["ingestion"]["seed"], params["training"]["seed"]) == (42, 3)


def test_likely_mistakes_are_warned_about(project: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="imdb_sentiment.hooks"):
        create_context(
            project,
            **{
                "training.learning_rate": 5.0,
                "training.model.cnn.num_filters": 3,
                "training.adversarial_epsilon": 2.0,
            },
        )
    assert "training.learning_rate=5.0 is above 1.0" in caplog.text
    assert "training.adversarial_epsilon=2.0 is above 1.0" in caplog.text
    assert "training.model.cnn.num_filters has no effect: training.model.type is 'bilstm'" in (
        caplog.text
    )


@pytest.fixture(scope="module")
def tracking(tmp_path_factory: pytest.TempPathFactory):
    """One SQLite store for the tests below (creating one takes seconds)."""
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}")
    mlflow.set_experiment("hooks")  # not whichever experiment an earlier context set
    yield mlflow.MlflowClient()
    while mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


def test_a_run_is_named_and_the_checkpoint_stamped_with_it(tracking) -> None:
    hooks = MlflowRunHooks()
    hooks._training_params = {"model": {**MODEL, "type": "cnn"}}
    run = mlflow.start_run()
    hooks.before_pipeline_run({"pipeline_names": ["training"], "runtime_params": {}})
    checkpoint: dict = {"state_dict": {}}
    hooks.before_dataset_saved(CHECKPOINT_DATASET, checkpoint)
    hooks.before_dataset_saved("training_history", {})  # other datasets are left alone
    hooks.after_pipeline_run()
    mlflow.end_run()
    name = tracking.get_run(run.info.run_id).info.run_name
    assert name.startswith("training · base · cnn-3.4.5x100 · ")
    assert checkpoint["mlflow_run_id"] == run.info.run_id


def test_an_evaluate_run_is_linked_to_the_run_that_trained_its_model(tracking) -> None:
    hooks = MlflowRunHooks()
    with mlflow.start_run() as training_run:
        checkpoint = {"mlflow_run_id": training_run.info.run_id, "mlflow_run_name": "t"}
    with mlflow.start_run() as evaluate_run:
        hooks.after_dataset_loaded(CHECKPOINT_DATASET, checkpoint)
        hooks.after_dataset_loaded("vocabulary", {"mlflow_run_id": "other"})
    tags = tracking.get_run(evaluate_run.info.run_id).data.tags
    assert tags["trained_in_run_id"] == training_run.info.run_id
    with mlflow.start_run() as same_run:  # a checkpoint of this very run: no link
        hooks.after_dataset_loaded(CHECKPOINT_DATASET, {"mlflow_run_id": same_run.info.run_id})
    assert "trained_in_run_id" not in tracking.get_run(same_run.info.run_id).data.tags


def test_a_pipeline_that_neither_finished_nor_failed_is_marked_killed(tracking) -> None:
    hooks = MlflowRunHooks()
    hooks._training_params = {"model": MODEL}
    run = mlflow.start_run()
    hooks.before_pipeline_run({"pipeline_names": None, "runtime_params": {}})
    hooks.end_unfinished_run()  # what atexit calls after Ctrl-C
    assert mlflow.active_run() is None
    assert tracking.get_run(run.info.run_id).info.status == "KILLED"
    finished = mlflow.start_run()
    hooks.before_pipeline_run({"pipeline_names": None, "runtime_params": {}})
    hooks.after_pipeline_run()
    hooks.end_unfinished_run()
    assert mlflow.active_run().info.run_id == finished.info.run_id  # left to kedro-mlflow


def test_run_names_show_epochs_source_and_size_of_training_runs() -> None:
    description = RunDescription(
        pipelines=["all"],
        env="local",
        model="bilstm-1x64-max_mean",
        epochs=8,
        source="data/01_raw/imdb_sample",
        started=datetime(2026, 11, 27, 12, 30, 5),
    )
    assert description.name() == (
        "all · local · bilstm-1x64-max_mean · 8 epochs · imdb_sample · 11-27 12:30:05"
    )
    description.sizes.update(test=2000, train=4050)
    assert "· imdb_sample 4,050 train ·" in description.name()


def test_the_runner_tag_is_its_class_name() -> None:
    assert _runner_name("<kedro.runner.sequential_runner.SequentialRunner object at 0x7f>") == (
        "SequentialRunner"
    )
    assert _runner_name(SequentialRunner()) == "SequentialRunner"


def test_a_run_that_trains_refuses_a_model_uri() -> None:
    hooks = MlflowRunHooks()
    with pytest.raises(SettingsError, match="model_uri: is for evaluate and predict"):
        hooks.before_pipeline_run(
            {"runtime_params": {"model_uri": "models:/imdb-sentiment@champion"}},
            training_pipeline(),
        )


def test_runs_are_tagged_with_split_sizes_git_commit_and_renamed_by_size(tracking) -> None:
    hooks = MlflowRunHooks()
    hooks._training_params = {"model": MODEL, "epochs": 3}
    hooks._data_source = "data/01_raw/imdb_sample"
    hooks._project_path = PROJECT_ROOT
    while mlflow.active_run() is not None:  # left open on purpose by the test above
        mlflow.end_run()
    with mlflow.start_run() as run:
        hooks.before_pipeline_run({"pipeline_names": ["training"], "runtime_params": {}})
        hooks.after_dataset_loaded("train_ids", list(range(40)))
        hooks.after_dataset_saved("valid_ids", list(range(5)))
        hooks.after_pipeline_run()
    tags = tracking.get_run(run.info.run_id).data.tags
    assert (tags["size.train"], tags["size.valid"]) == ("40", "5")
    assert tags["data_source"] == "data/01_raw/imdb_sample"
    assert tags["mlflow.runName"].startswith("training · base · bilstm-1x64-max_mean · imdb")
    assert "imdb_sample 40 train" in tags["mlflow.runName"]
    if (PROJECT_ROOT / ".git").exists():
        assert len(tags["git_commit"]) == 40
        assert tags["git_dirty"] in {"true", "false"}
