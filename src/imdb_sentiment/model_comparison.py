"""The neural model beside the linear baselines on one labelled set, with paired tests.

Every model is scored by the same code (:func:`imdb_sentiment.evaluation.classification_metrics`
plus the ECE of its calibrated probabilities) on the same reviews, and the neural model is
compared with each baseline by McNemar's exact test on the reviews where exactly one of the two
is right. Numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from imdb_sentiment.calibration import ECE_BINS, expected_calibration_error
from imdb_sentiment.evaluation import classification_metrics, mcnemar_exact

MODEL = "model"  # the key of the neural model in a comparison
# what the table and MLflow show of each model, in this order
SHOWN = ("accuracy", "accuracy_ci95_low", "accuracy_ci95_high", "f1", "roc_auc", "log_loss", "ece")


def compare_models(
    labels: np.ndarray,
    probabilities: Mapping[str, np.ndarray],
    threshold: float = 0.5,
    bins: int = ECE_BINS,
) -> dict[str, Any]:
    """Metrics of every model in ``probabilities`` (``MODEL`` first) and McNemar's test of
    ``MODEL`` against each other one; ``n`` 0 and nothing else for an empty set."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) == 0:
        return {"n": 0, "models": {}, "paired": {}}
    if MODEL not in probabilities:
        raise ValueError(f"compare_models: no {MODEL!r} among {sorted(probabilities)}")
    models: dict[str, dict[str, Any]] = {}
    correct: dict[str, np.ndarray] = {}
    for name, p in probabilities.items():
        metrics = classification_metrics(labels, p, threshold=threshold)
        metrics["ece"] = expected_calibration_error(labels, p, bins)
        models[name] = metrics
        correct[name] = (np.asarray(p) >= threshold) == (labels == 1)
    paired = {}
    for name in models:
        if name == MODEL:
            continue
        test = mcnemar_exact(correct[MODEL], correct[name])
        paired[name] = {
            "model_only_right": test["a_only"],
            "baseline_only_right": test["b_only"],
            "accuracy_difference": test["accuracy_difference"],
            "mcnemar_p_value": test["p_value"],
        }
    return {"n": int(len(labels)), "models": models, "paired": paired}


def comparison_metrics(
    set_name: str, comparison: Mapping[str, Any], include_model: bool = True
) -> dict[str, float]:
    """Flat MLflow metric names: ``baseline_<name>_<set>_<metric>`` for each baseline,
    ``<set>_<metric>`` for the model (unless ``include_model`` is false),
    ``<set>_mcnemar_p_<name>`` and ``<set>_accuracy_minus_<name>`` for each pair. Undefined
    values are left out."""
    flat: dict[str, float] = {}
    for name, metrics in comparison.get("models", {}).items():
        if name == MODEL and not include_model:
            continue
        prefix = set_name if name == MODEL else f"baseline_{name}_{set_name}"
        for metric in SHOWN:
            if metrics.get(metric) is not None:
                flat[f"{prefix}_{metric}"] = float(metrics[metric])
    for name, pair in comparison.get("paired", {}).items():
        flat[f"{set_name}_mcnemar_p_{name}"] = float(pair["mcnemar_p_value"])
        flat[f"{set_name}_accuracy_minus_{name}"] = float(pair["accuracy_difference"])
    return flat


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f}%"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def comparison_markdown(comparisons: Mapping[str, Mapping[str, Any]], model_name: str) -> str:
    """One table per labelled set: accuracy (95% CI), F1, ROC AUC, log loss, ECE of every
    model, and the McNemar p-value of the neural model against each baseline."""
    lines = []
    for set_name, comparison in comparisons.items():
        if not comparison.get("n"):
            continue
        source = comparison.get("source")
        lines += [
            f"## {set_name} ({comparison['n']:,} reviews{f', {source}' if source else ''})",
            "",
            "| model | accuracy (95% CI) | F1 | ROC AUC | log loss | ECE | vs the model: "
            "McNemar p (only model right / only baseline right) |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for name, metrics in comparison["models"].items():
            pair = comparison["paired"].get(name)
            versus = (
                "–"
                if pair is None
                else f"{pair['mcnemar_p_value']:.3g} ({pair['model_only_right']} / "
                f"{pair['baseline_only_right']})"
            )
            shown = model_name if name == MODEL else f"{name} (linear baseline)"
            lines.append(
                f"| {shown} | {_percent(metrics['accuracy'])} "
                f"({_percent(metrics['accuracy_ci95_low'])}-{_percent(metrics['accuracy_ci95_high'])})"
                f" | {_number(metrics['f1'])} | {_number(metrics['roc_auc'])} "
                f"| {_number(metrics['log_loss'])} | {_number(metrics['ece'])} | {versus} |"
            )
        lines.append("")
    return "\n".join(lines) if lines else "No labelled set was scored.\n"
