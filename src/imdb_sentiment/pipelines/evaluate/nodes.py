"""Evaluation nodes: thin wrappers around :mod:`imdb_sentiment.evaluation`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from imdb_sentiment.evaluation import classification_metrics
from imdb_sentiment.inference import predict_probabilities
from imdb_sentiment.models import load_model
from imdb_sentiment.parameters import EvaluateSettings
from imdb_sentiment.reporting import confusion_matrix_figure, roc_curve_figure
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.vocabulary import Vocabulary, check_model_vocabulary

logger = logging.getLogger(__name__)

SCALAR_METRICS = (
    "accuracy",
    "accuracy_ci95_low",
    "accuracy_ci95_high",
    "precision",
    "recall",
    "f1",
    "roc_auc",
    "log_loss",
)


def predict_test_reviews(
    checkpoint: dict,
    vocabulary: Vocabulary,
    test_ids: EncodedReviews,
    params: dict[str, Any],
) -> pd.DataFrame:
    """One row per test review: its id, the probability of positive, the true label."""
    settings = EvaluateSettings.from_dict(params, "evaluate")
    check_model_vocabulary(checkpoint, vocabulary)
    network = load_model(checkpoint, vocab_size=len(vocabulary))
    probabilities = predict_probabilities(
        network,
        test_ids,
        batch_size=settings.batch_size,
        device=settings.device,
        bf16=settings.bf16,
        max_length=checkpoint.get("max_length"),
    )
    return pd.DataFrame(
        {
            "id": test_ids.review_ids,
            "probability": probabilities.astype(np.float32),
            "prediction": (probabilities >= settings.threshold).astype(np.int8),
            "label": test_ids.labels.astype(np.int8),
        }
    )


def compute_test_metrics(predictions: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Accuracy with its 95% interval, precision, recall, F1, ROC AUC, log loss, confusion."""
    metrics = classification_metrics(
        predictions["label"].to_numpy(),
        predictions["probability"].to_numpy(),
        threshold=EvaluateSettings.from_dict(params, "evaluate").threshold,
    )
    auc = metrics["roc_auc"]
    logger.info(
        "Test accuracy %.4f (95%% CI %.4f-%.4f) on %d reviews; F1 %.4f, ROC AUC %s",
        metrics["accuracy"],
        metrics["accuracy_ci95_low"],
        metrics["accuracy_ci95_high"],
        metrics["n"],
        metrics["f1"],
        "n/a (one class)" if auc is None else f"{auc:.4f}",
    )
    return metrics


def mlflow_test_metrics(metrics: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The scalar test metrics in kedro-mlflow's form, prefixed ``test_``.

    Undefined ones (ROC AUC of a test set with one class) are left out rather than logged.
    """
    return {
        f"test_{name}": {"value": float(metrics[name]), "step": 0}
        for name in SCALAR_METRICS
        if metrics.get(name) is not None
    }


def plot_confusion_matrix(metrics: dict[str, Any]) -> Figure:
    return confusion_matrix_figure(np.asarray(metrics["confusion_matrix"]))


def plot_roc_curve(predictions: pd.DataFrame, metrics: dict[str, Any]) -> Figure:
    return roc_curve_figure(
        predictions["label"].to_numpy(), predictions["probability"].to_numpy(), metrics["roc_auc"]
    )
