"""Shared fixtures: a throw-away copy of the project, so runs never touch the checkout."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

import imdb_sentiment  # noqa: F401 - sets OMP_WAIT_POLICY before any test module imports torch
from imdb_sentiment.calibration import TEMPERATURE_KEY
from imdb_sentiment.models import build_model, model_checkpoint
from imdb_sentiment.models.cnn import CNNConfig
from imdb_sentiment.serving import SentimentModel
from imdb_sentiment.settings import CONFIG_LOADER_ARGS
from imdb_sentiment.text import TokenizerConfig
from imdb_sentiment.training import seed_everything
from imdb_sentiment.vocabulary import FINGERPRINT_KEY, Vocabulary

PROJECT_ROOT = Path(__file__).resolve().parents[1]
COPIED = ("src", "conf", "pyproject.toml", ".telemetry", "data/01_raw/imdb_sample")

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")


def copy_project(destination: Path) -> Path:
    """The project's configuration and bundled sample in ``destination``, outputs empty."""
    for relative in COPIED:
        source = PROJECT_ROOT / relative
        target = destination / relative
        if source.is_dir():
            shutil.copytree(
                source, target, ignore=shutil.ignore_patterns("local", "__pycache__", "*.egg-info")
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    local = destination / "conf" / "local"
    local.mkdir(exist_ok=True)
    # MLflow caches one store per tracking URI in a process: a relative `sqlite:///mlflow.db`
    # would keep writing to the first copy's database, so each copy names its own absolutely.
    (local / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{destination / 'mlflow.db'}\n"
    )
    for layer in (
        "02_intermediate",
        "03_primary",
        "04_feature",
        "05_model_input",
        "06_models",
        "07_model_output",
        "08_reporting",
    ):
        (destination / "data" / layer).mkdir(parents=True, exist_ok=True)
    return destination


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    return copy_project(tmp_path / "project")


def project_config(env: str = "base", runtime_params: dict | None = None) -> OmegaConfigLoader:
    """The checkout's configuration as the project loads it; ``base`` alone ignores conf/local."""
    return OmegaConfigLoader(
        conf_source=str(PROJECT_ROOT / "conf"),
        env=env,
        runtime_params=runtime_params,
        **CONFIG_LOADER_ARGS,
    )


@pytest.fixture(scope="session")
def project_catalog() -> DataCatalog:
    """The base catalog (datasets are created, nothing is read)."""
    return DataCatalog.from_config(project_config()["catalog"])


TINY_VOCABULARY = Vocabulary(
    itos=("<pad>", "<unk>", "good", "bad", "film", "dull"),
    tokenization=TokenizerConfig("blank:en", lowercase=True),
)


def tiny_served_model(threshold: float | None = 0.5, temperature: float = 1.0) -> SentimentModel:
    """A small untrained CNN over a six-word vocabulary, served: fast, deterministic; its
    probabilities calibrated by ``temperature`` as a trained checkpoint's are."""
    seed_everything(0)
    config = CNNConfig(filter_sizes=(2,), num_filters=3).for_data(
        vocab_size=len(TINY_VOCABULARY), embedding_dim=4, padding_idx=TINY_VOCABULARY.pad_index
    )
    checkpoint = {
        **model_checkpoint(build_model(config)),
        "max_length": 3,
        "best_valid_accuracy": 0.75,
        "best_epoch": 2,
        FINGERPRINT_KEY: TINY_VOCABULARY.fingerprint(),
        TEMPERATURE_KEY: temperature,
    }
    return SentimentModel(checkpoint=checkpoint, vocabulary=TINY_VOCABULARY, threshold=threshold)
