"""Evaluation nodes: thin wrappers around :mod:`imdb_sentiment.evaluation`,
:mod:`imdb_sentiment.calibration` and :mod:`imdb_sentiment.model_comparison`."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from matplotlib.figure import Figure

from imdb_sentiment.batches import Batches, whole_frame
from imdb_sentiment.calibration import TEMPERATURE_KEY, calibration_report, sigmoid
from imdb_sentiment.evaluation import classification_metrics
from imdb_sentiment.inference import model_logits
from imdb_sentiment.linear_baselines import LinearBaseline
from imdb_sentiment.model_comparison import (
    MODEL,
    compare_models,
    comparison_markdown,
    comparison_metrics,
)
from imdb_sentiment.models import checkpoint_config, load_model
from imdb_sentiment.parameters import EvaluateSettings, TokenizationSettings
from imdb_sentiment.reporting import (
    comparison_figure,
    confusion_matrix_figure,
    reliability_diagram_figure,
    roc_curve_figure,
)
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.text import TokenizerConfig, tokenize_to_arrow
from imdb_sentiment.vocabulary import Vocabulary, check_model_vocabulary, token_lists

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
    "log_loss_uncalibrated",
    "ece",
    "ece_uncalibrated",
    "mean_confidence",
    "mean_confidence_uncalibrated",
)


def predict_reviews(
    checkpoint: dict,
    vocabulary: Vocabulary,
    encoded: EncodedReviews,
    params: dict[str, Any],
) -> pd.DataFrame:
    """One row per review: its id, the calibrated and the raw probability of positive, the
    prediction at the threshold, the true label.

    The calibrated probability is ``sigmoid(logit / T)`` with the checkpoint's temperature
    (fitted on validation after training); a checkpoint without one is used as it is (T = 1).
    """
    settings = EvaluateSettings.from_dict(params, "evaluate")
    check_model_vocabulary(checkpoint, vocabulary)
    temperature = checkpoint.get(TEMPERATURE_KEY)
    if temperature is None:
        logger.warning(
            "the stored model has no temperature (trained before calibration existed): its "
            "probabilities are reported uncalibrated; retrain with `kedro run`"
        )
        temperature = 1.0
    logits = np.zeros(0, dtype=np.float32)
    if len(encoded):
        logits = model_logits(
            load_model(checkpoint, vocab_size=len(vocabulary)),
            encoded,
            batch_size=settings.batch_size,
            device=settings.device,
            bf16=settings.bf16,
            max_length=checkpoint.get("max_length"),
        )
    calibrated = sigmoid(logits / float(temperature))
    return pd.DataFrame(
        {
            "id": encoded.review_ids,
            "probability": calibrated.astype(np.float32),
            "probability_uncalibrated": sigmoid(logits).astype(np.float32),
            "prediction": (calibrated >= settings.threshold).astype(np.int8),
            "label": encoded.labels.astype(np.int8),
        }
    )


def compute_test_metrics(predictions: pd.DataFrame, params: dict[str, Any]) -> dict[str, Any]:
    """Accuracy with its 95% interval, precision, recall, F1, ROC AUC, log loss, confusion (of
    the calibrated probabilities), and ECE, log loss and mean confidence before and after
    calibration."""
    settings = EvaluateSettings.from_dict(params, "evaluate")
    labels = predictions["label"].to_numpy()
    metrics = classification_metrics(
        labels, predictions["probability"].to_numpy(), threshold=settings.threshold
    )
    metrics.update(
        calibration_report(
            labels,
            predictions["probability_uncalibrated"].to_numpy(),
            predictions["probability"].to_numpy(),
            settings.ece_bins,
        )
    )
    auc = metrics["roc_auc"]
    logger.info(
        "Test accuracy %.4f (95%% CI %.4f-%.4f) on %d reviews; F1 %.4f, ROC AUC %s; ECE %.4f "
        "calibrated (%.4f uncalibrated)",
        metrics["accuracy"],
        metrics["accuracy_ci95_low"],
        metrics["accuracy_ci95_high"],
        metrics["n"],
        metrics["f1"],
        "n/a (one class)" if auc is None else f"{auc:.4f}",
        metrics["ece"],
        metrics["ece_uncalibrated"],
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


def plot_reliability_diagram(
    predictions: pd.DataFrame, checkpoint: dict, params: dict[str, Any]
) -> Figure:
    """Test reliability diagram before and after the temperature."""
    return reliability_diagram_figure(
        predictions["label"].to_numpy(),
        predictions["probability_uncalibrated"].to_numpy(),
        predictions["probability"].to_numpy(),
        EvaluateSettings.from_dict(params, "evaluate").ece_bins,
        checkpoint.get(TEMPERATURE_KEY),
    )


def tokenize_labelled_reviews(
    reviews: pd.DataFrame, vocabulary: Vocabulary, params: dict[str, Any]
) -> pd.DataFrame:
    """Columns ``id``, ``label``, ``tokens``, tokenized as the vocabulary's tokens were (and as
    the served model tokenizes), whatever the current tokenization parameters say."""
    settings = TokenizationSettings.from_dict(params, "tokenization")
    tokens = tokenize_to_arrow(
        pa.array(reviews["text"].tolist(), type=pa.large_string()),
        vocabulary.tokenization or TokenizerConfig(),
        n_workers=settings.n_workers,
        chunk_size=settings.chunk_size,
    )
    return pd.DataFrame(
        {
            "id": reviews["id"].to_numpy(dtype="int64"),
            "label": reviews["label"].to_numpy(dtype="int64"),
            # numpy arrays of str, as the tokenization pipeline writes them; an empty set keeps
            # the list type (an empty object column would be written as doubles)
            "tokens": tokens.to_pandas().to_numpy()
            if len(reviews)
            else pd.Series([], dtype=pd.ArrowDtype(pa.list_(pa.string()))),
        }
    )


def score_with_baselines(
    tokens: Batches | pd.DataFrame, *baselines: LinearBaseline
) -> pd.DataFrame:
    """Per review: id, label and each baseline's calibrated probability of positive."""
    tokens = whole_frame(tokens)
    lists = token_lists(tokens, "tokens") if len(tokens) else []
    scores = {
        f"{model.name}_probability": (
            model.predict_proba(lists) if len(tokens) else np.zeros(0)
        ).astype(np.float32)
        for model in baselines
    }
    return pd.DataFrame(
        {
            "id": tokens["id"].to_numpy(dtype="int64"),
            "label": tokens["label"].to_numpy(dtype=np.int8),
            **scores,
        }
    )


def compare_with_baselines(
    predictions: pd.DataFrame, baseline_predictions: pd.DataFrame, params: dict[str, Any]
) -> dict[str, Any]:
    """The model and every baseline on the same reviews, with McNemar's test of each pair."""
    settings = EvaluateSettings.from_dict(params, "evaluate")
    if not predictions["id"].equals(baseline_predictions["id"]):
        raise ValueError(
            "the model's and the baselines' predictions are not of the same reviews in the same "
            "order: rerun `kedro run --pipeline=evaluate`"
        )
    probabilities = {MODEL: predictions["probability"].to_numpy()}
    for column in baseline_predictions.columns:
        if column.endswith("_probability"):
            probabilities[column.removesuffix("_probability")] = baseline_predictions[
                column
            ].to_numpy()
    return compare_models(
        predictions["label"].to_numpy(),
        probabilities,
        threshold=settings.threshold,
        bins=settings.ece_bins,
    )


def report_model_comparison(
    test_comparison: dict[str, Any],
    extra_test_comparison: dict[str, Any],
    checkpoint: dict,
) -> tuple[dict[str, Any], str, Figure, dict[str, dict[str, float]]]:
    """The comparison as JSON, a markdown table, a chart of test accuracies and MLflow metrics
    (the baselines', the paired tests', and the model's on the extra set)."""
    model_name = checkpoint_config(checkpoint).describe()
    comparisons = {"test": test_comparison}
    if extra_test_comparison.get("n"):
        comparisons["extra_test"] = extra_test_comparison
    report = {"model": model_name, **comparisons}
    flat: dict[str, float] = {}
    for set_name, comparison in comparisons.items():
        # the model's own test metrics are logged by log_test_metrics
        flat.update(comparison_metrics(set_name, comparison, include_model=set_name != "test"))
    for set_name, comparison in comparisons.items():
        for name, pair in comparison["paired"].items():
            logger.info(
                "%s: model %.4f vs %s %.4f (McNemar p = %.3g)",
                set_name,
                comparison["models"][MODEL]["accuracy"],
                name,
                comparison["models"][name]["accuracy"],
                pair["mcnemar_p_value"],
            )
    accuracies = {
        (model_name if name == MODEL else name): (
            metrics["accuracy"],
            metrics["accuracy_ci95_low"],
            metrics["accuracy_ci95_high"],
        )
        for name, metrics in test_comparison["models"].items()
    }
    figure = comparison_figure(accuracies, f"test accuracy ({test_comparison['n']:,} reviews)")
    table = f"# {model_name} beside the linear baselines\n\n" + comparison_markdown(
        comparisons, model_name
    )
    metrics = {name: {"value": value, "step": 0} for name, value in flat.items()}
    return report, table, figure, metrics
