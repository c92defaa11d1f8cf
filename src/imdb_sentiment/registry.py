"""The MLflow Model Registry: a version of ``imdb-sentiment`` per training run, and its champion.

Each training run registers the model it logged as a new version, tagged with its best
validation accuracy, data source and run. The alias ``champion`` moves to the new version only
if that accuracy beats the current champion's (ties keep the champion), so
``models:/imdb-sentiment@champion`` is always the best model trained so far, chosen on
validation data, never on test. Evaluate and predict load any ``models:/`` or ``runs:/`` URI
with :func:`load_served_model`.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import mlflow
from kedro.io import DatasetError
from mlflow.exceptions import MlflowException

from imdb_sentiment.errors import ExpectedFailure
from imdb_sentiment.serving import SentimentModel

logger = logging.getLogger(__name__)

MODEL_NAME = "imdb-sentiment"
CHAMPION = "champion"
ACCURACY_TAG = "best_valid_accuracy"


class ModelNotFoundError(DatasetError, ExpectedFailure):
    """A ``model_uri`` that names no loadable served model (a dataset's refusal to load)."""


@dataclass(frozen=True)
class Registration:
    """What :func:`register_version` did."""

    name: str
    version: str
    accuracy: float
    champion: str  # the champion's version afterwards
    promoted: bool  # whether the alias moved to this version
    previous_champion: str | None
    previous_accuracy: float | None


def _accuracy(tags: dict[str, str]) -> float | None:
    try:
        value = float(tags[ACCURACY_TAG])
    except (KeyError, TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def current_champion(
    client: mlflow.MlflowClient, name: str = MODEL_NAME, alias: str = CHAMPION
) -> tuple[str | None, float | None]:
    """The version the alias points to and its tagged accuracy; (None, None) when none."""
    try:
        version = client.get_model_version_by_alias(name, alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None, None
        raise
    return str(version.version), _accuracy(version.tags)


def register_version(  # noqa: PLR0917
    model_uri: str,
    accuracy: float,
    tags: dict[str, Any],
    name: str = MODEL_NAME,
    alias: str = CHAMPION,
    client: mlflow.MlflowClient | None = None,
) -> Registration:
    """Register ``model_uri`` as a new version of ``name``; move ``alias`` to it if its
    validation ``accuracy`` beats the champion's (or there is no champion yet).

    A champion without an accuracy tag (set by hand) is never replaced automatically.
    """
    client = client or mlflow.MlflowClient()
    version_tags = {key: str(value) for key, value in tags.items() if value is not None}
    version_tags[ACCURACY_TAG] = repr(float(accuracy))
    registered = mlflow.register_model(model_uri, name, tags=version_tags)
    version = str(registered.version)
    previous, previous_accuracy = current_champion(client, name, alias)
    beats = previous is None or (
        previous_accuracy is not None and float(accuracy) > previous_accuracy
    )
    if beats:
        client.set_registered_model_alias(name, alias, version)
    result = Registration(
        name=name,
        version=version,
        accuracy=float(accuracy),
        champion=version if beats else str(previous),
        promoted=beats,
        previous_champion=previous,
        previous_accuracy=previous_accuracy,
    )
    if beats:
        logger.info(
            "Registered %s version %s (validation accuracy %.4f): the new %s%s",
            name,
            version,
            accuracy,
            alias,
            "" if previous is None else f" (was version {previous}, {previous_accuracy:.4f})",
        )
    else:
        held = "no accuracy tag" if previous_accuracy is None else f"{previous_accuracy:.4f}"
        logger.info(
            "Registered %s version %s (validation accuracy %.4f); %s stays version %s (%s)",
            name,
            version,
            accuracy,
            alias,
            previous,
            held,
        )
    return result


def load_served_model(model_uri: str) -> SentimentModel:
    """The served model at ``model_uri`` (``models:/NAME@ALIAS``, ``models:/NAME/VERSION``,
    ``runs:/RUN_ID/sentiment_model``, a logged model's ``models:/m-...`` or a local folder),
    unwrapped: batch prediction and evaluation call its scoring methods directly."""
    try:
        loaded = mlflow.pyfunc.load_model(model_uri)
    except (MlflowException, OSError) as error:
        message = getattr(error, "message", None) or str(error)
        raise ModelNotFoundError(
            f"model_uri {model_uri!r}: no loadable model in the MLflow store "
            f"{mlflow.get_tracking_uri()} ({' '.join(message.split())[:300]}); "
            f"`kedro run` trains and registers {MODEL_NAME}, `kedro mlflow ui` lists what "
            "there is"
        ) from error
    model = loaded.unwrap_python_model()
    if not isinstance(model, SentimentModel):
        raise ModelNotFoundError(
            f"model_uri {model_uri!r} is a {type(model).__name__}, not this project's "
            "sentiment model"
        )
    return model
