"""`kedro run` with training on Ray (2 CPU workers, gloo) against the single-process run with the
same settings, on the bundled sample; and Ctrl-C during a Ray run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mlflow
import psutil
import pytest
import torch

from imdb_sentiment.calibration import TEMPERATURE_KEY
from imdb_sentiment.models import CHECKPOINT_FORMAT, load_model
from tests.conftest import copy_project
from tests.e2e.kedro_runs import copy_trained, kedro_run, runs_of, tracking_uri
from tests.e2e.test_interrupt import interrupted_kedro_run

pytestmark = [pytest.mark.slow, pytest.mark.heavy]
pytest.importorskip("ray", reason='Ray is an optional extra: pip install -e ".[ray]"')

# One seed, a model small enough for minutes on two shared cores. The single-process run takes
# batches of 32; each of the 2 workers batches of 16, whose gradients DDP averages: the same 32
# reviews a step and the same learning rate (README, "Training on a Ray cluster", says why the
# two still differ).
SETTINGS = {
    "seed": 42,
    "training.epochs": 6,
    "training.model.bilstm.hidden_dim": 32,
    "training.max_length": 200,
    "training.progress": False,
}
SINGLE = {**SETTINGS, "training.batch_size": 32}
ON_RAY = {
    **SETTINGS,
    "training.batch_size": 16,
    "training.distributed.backend": "ray",
    "training.distributed.num_workers": 2,
}
RAY_PROCESSES = {"raylet", "gcs_server"}


def _ray_processes_since(started: float) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["name", "create_time"]):
        if process.info["name"] in RAY_PROCESSES and process.info["create_time"] >= started:
            found.append(process)
    return found


def _gone(started: float, wait_s: float = 30.0) -> bool:
    deadline = time.monotonic() + wait_s
    while _ray_processes_since(started):
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def _latest(folder: Path, name: str) -> Path:
    return sorted(folder.iterdir())[-1] / name


def _checkpoint(models: Path) -> dict:
    """The newest version of the trained checkpoint in ``models``."""
    return torch.load(
        _latest(models / "model_checkpoint.pt", "model_checkpoint.pt"), weights_only=False
    )


@pytest.fixture(scope="module")
def with_features(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project copy with the sample's features and linear baselines (evaluate needs them)."""
    project = copy_project(tmp_path_factory.mktemp("ray") / "project")
    kedro_run(project, pipeline_names=["ingestion", "tokenization", "features", "baselines"])
    return project


@pytest.fixture
def project_copy(with_features: Path, tmp_path: Path) -> Path:
    """Its own copy of ``with_features``: the outputs, a new MLflow store."""
    return copy_trained(with_features, tmp_path / "project", with_store=False)


def test_two_ray_workers_train_as_well_as_one_process(project_copy: Path) -> None:
    metrics = project_copy / "data/08_reporting/test_metrics.json"
    models = project_copy / "data/06_models"

    kedro_run(project_copy, pipeline_names=["training", "evaluate"], runtime_params=SINGLE)
    single = json.loads(metrics.read_text())
    local = _checkpoint(models)
    started = time.time()
    kedro_run(project_copy, pipeline_names=["training", "evaluate"], runtime_params=ON_RAY)
    on_ray = json.loads(metrics.read_text())

    # the local Ray was started for the run and is gone
    assert _gone(started), [p.info for p in _ray_processes_since(started)]
    # the model was saved and loads
    checkpoint = _checkpoint(models)
    # what a local run's checkpoint holds (format, model type, calibration temperature, ...)
    assert checkpoint.keys() == local.keys()
    assert (checkpoint["format"], checkpoint["model_type"]) == (CHECKPOINT_FORMAT, "bilstm")
    assert checkpoint[TEMPERATURE_KEY] > 0
    assert checkpoint["distributed"]["backend"] == "ray"
    assert checkpoint["distributed"]["num_workers"] == 2
    assert checkpoint["device"] == "cpu"
    load_model(checkpoint, vocab_size=checkpoint["vocabulary_size"])
    history = json.loads(
        _latest(models / "training_history.json", "training_history.json").read_text()
    )
    assert len(history) == 6
    # one MLflow run per kedro run (single, Ray): Ray opened none of its own
    runs = runs_of(project_copy)
    assert [run.info.status for run in runs] == ["FINISHED"] * 2
    ray_run = runs[-1]
    assert ray_run.data.params["training.distributed.backend"] == "ray"
    assert ray_run.data.params["training.batch_size"] == "16"
    client = mlflow.MlflowClient(tracking_uri(project_copy))
    logged = client.get_metric_history(ray_run.info.run_id, "valid_accuracy")
    assert [(m.step, m.value) for m in logged] == [
        (r["epoch"], pytest.approx(r["valid_accuracy"])) for r in history
    ]
    assert ray_run.data.metrics["test_accuracy"] == pytest.approx(on_ray["accuracy"])
    # as accurate as one process with the same settings, within 2 points
    assert abs(on_ray["accuracy"] - single["accuracy"]) <= 0.02, (on_ray, single)


def test_ctrl_c_during_ray_training_keeps_the_best_model_and_fails_the_run(
    project_copy: Path,
) -> None:
    params = (
        "training.epochs=500,training.patience=500,training.model.bilstm.hidden_dim=8,"
        "training.max_length=40,training.progress=false,training.batch_size=16,"
        "training.distributed.backend=ray"
    )
    started = time.time()
    returncode, log = interrupted_kedro_run(
        project_copy, ["--pipeline=training", f"--params={params}"], "epoch 2: train loss"
    )
    assert returncode != 0, log[-3000:]
    assert "ending the Ray job" in log, log[-3000:]
    assert _gone(started), [p.info for p in _ray_processes_since(started)]
    summary = json.loads((project_copy / "data/06_models/training_summary.json").read_text())
    assert summary["stop_reason"] == "interrupted"
    assert summary["best_epoch"] >= 1
    checkpoint = _checkpoint(project_copy / "data/06_models")
    assert checkpoint["best_epoch"] == summary["best_epoch"]
    # calibrated on the best epoch's validation logits the first worker sent with its weights
    assert checkpoint[TEMPERATURE_KEY] == summary["valid_calibration"]["temperature"] > 0
    load_model(checkpoint, vocab_size=checkpoint["vocabulary_size"])
    assert runs_of(project_copy)[-1].info.status in {"FAILED", "KILLED"}
