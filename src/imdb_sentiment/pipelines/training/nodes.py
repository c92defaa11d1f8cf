"""Training nodes: thin wrappers around :mod:`imdb_sentiment.training`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from imdb_sentiment.calibration import (
    TEMPERATURE_KEY,
    calibration_report,
    fit_temperature,
    sigmoid,
)
from imdb_sentiment.distributed import run_training
from imdb_sentiment.errors import ExpectedFailure
from imdb_sentiment.parameters import training_settings
from imdb_sentiment.reporting import training_curves_figure
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.serving import SentimentModel
from imdb_sentiment.training import TrainingResult
from imdb_sentiment.vocabulary import FINGERPRINT_KEY, Vocabulary

logger = logging.getLogger(__name__)


class TrainingStopped(RuntimeError, ExpectedFailure):
    """Training ended early (interrupted or diverged); what it had is saved, the run failed."""


def train_sentiment_model(  # noqa: PLR0917 (a node: inputs by position)
    train_ids: EncodedReviews,
    valid_ids: EncodedReviews,
    embedding_matrix: np.ndarray,
    vocabulary: Vocabulary,
    params: dict[str, Any],
    epoch_logger: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[dict, list[dict], dict[str, Any]]:
    """Train on ``train_ids``, keep the best epoch on ``valid_ids``; the test split is not read.

    The architecture is ``training.model.type``; ``training.distributed`` says whether it
    trains here or on Ray workers. ``epoch_logger`` gets each epoch's record as it ends (the
    catalog's ``epoch_metrics_logger`` writes it to the MLflow run). Returns the best
    checkpoint, the per-epoch history and a summary of how training ended.
    """
    if embedding_matrix.shape[0] != len(vocabulary):
        raise ValueError(
            f"embedding_matrix has {embedding_matrix.shape[0]} rows but the vocabulary has "
            f"{len(vocabulary)} words: rebuild both with `kedro run --pipeline=features`"
        )
    train_config, model_config, distributed = training_settings(params)
    model_config = model_config.for_data(
        vocab_size=len(vocabulary),
        embedding_dim=int(embedding_matrix.shape[1]),
        padding_idx=vocabulary.pad_index,
    )
    result: TrainingResult = run_training(
        train_ids,
        valid_ids,
        embedding_matrix,
        model_config,
        train_config,
        distributed,
        epoch_logger,
    )
    if result.checkpoint is None:
        raise TrainingStopped(
            f"training stopped ({result.stop_reason}) before its first epoch ended: "
            "there is no model to keep"
        )
    # the kept epoch's validation logits: the temperature that calibrates its probabilities
    temperature = fit_temperature(result.best_valid_logits, valid_ids.labels)
    valid_calibration = {
        "temperature": temperature,
        **calibration_report(
            valid_ids.labels,
            sigmoid(result.best_valid_logits),
            sigmoid(result.best_valid_logits / temperature),
        ),
    }
    checkpoint = {
        **result.checkpoint,
        FINGERPRINT_KEY: vocabulary.fingerprint(),
        "max_length": train_config.max_length,
        "device": result.device,
        "distributed": distributed.to_dict(),
        TEMPERATURE_KEY: temperature,
    }
    summary = {
        "stop_reason": result.stop_reason,
        "best_epoch": result.best_epoch,
        "best_valid_accuracy": result.best_valid_accuracy,
        "epochs_run": len(result.history),
        "valid_calibration": valid_calibration,
    }
    logger.info(
        "Training %s after %d epochs; best epoch %s, validation accuracy %.4f; temperature "
        "%.3f (validation ECE %.4f -> %.4f)",
        result.stop_reason,
        len(result.history),
        result.best_epoch,
        result.best_valid_accuracy,
        temperature,
        valid_calibration["ece_uncalibrated"],
        valid_calibration["ece"],
    )
    return checkpoint, result.history, summary


def check_training_completed(training_summary: dict[str, Any]) -> None:
    """Fail the run after the best model and history were saved when training ended early."""
    reason = training_summary["stop_reason"]
    if reason == "interrupted":
        raise TrainingStopped(
            "training was interrupted: the best model so far (epoch "
            f"{training_summary['best_epoch']}) and the history are saved; the run is failed"
        )
    if reason == "nan_loss":
        raise TrainingStopped(
            "the training loss became NaN or infinite: the best model so far (epoch "
            f"{training_summary['best_epoch']}) is saved; lower the learning rate or check "
            "the embedding matrix"
        )


def training_run_facts(
    checkpoint: dict,
    vocabulary: Vocabulary,
    glove_coverage: dict[str, Any],
    training_summary: dict[str, Any],
) -> dict[str, Any]:
    """What the run was, known only at run time, for MLflow's parameter table."""
    config = checkpoint["model_config"]
    return {
        "vocabulary_size": len(vocabulary),
        "glove_source": glove_coverage.get("source"),
        "glove_dim": glove_coverage.get("dim"),
        "embedding_dim": config["embedding_dim"],
        "device": checkpoint.get("device"),
        "best_epoch": training_summary["best_epoch"],
        "stop_reason": training_summary["stop_reason"],
        "temperature": checkpoint.get(TEMPERATURE_KEY),
    }


def plot_training_curves(history: list[dict]) -> Figure:
    """Loss and accuracy per epoch, train against validation."""
    return training_curves_figure(history)


def package_serving_model(
    checkpoint: dict, vocabulary: Vocabulary, threshold: float
) -> SentimentModel:
    """The MLflow model: raw review text in, calibrated probability of positive and label out.

    It tokenizes as the vocabulary records and cuts reviews as training did, whatever the
    current parameters say.
    """
    return SentimentModel(checkpoint=checkpoint, vocabulary=vocabulary, threshold=threshold)
