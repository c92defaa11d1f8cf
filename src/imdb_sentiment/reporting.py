"""The report plots: training curves, confusion matrix, ROC curve."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from imdb_sentiment.evaluation import roc_curve  # noqa: E402


def training_curves_figure(history: list[dict]) -> Figure:
    """Loss and accuracy per epoch, train against validation, best epoch marked."""
    figure = Figure(figsize=(10, 4), layout="constrained")
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    epochs = [record["epoch"] for record in history]
    for axes, metric in ((loss_axes, "loss"), (accuracy_axes, "accuracy")):
        for split in ("train", "valid"):
            axes.plot(epochs, [r[f"{split}_{metric}"] for r in history], marker="o", label=split)
        axes.set_xlabel("epoch")
        axes.set_ylabel(metric)
        axes.grid(alpha=0.3)
        axes.legend()
    if history:
        best = max(history, key=lambda record: record["valid_accuracy"])
        accuracy_axes.axvline(best["epoch"], color="grey", linestyle="--", label="best")
        accuracy_axes.set_title(f"best epoch {best['epoch']}: {best['valid_accuracy']:.3f}")
    loss_axes.set_title("BCE loss")
    return figure


def confusion_matrix_figure(confusion: np.ndarray) -> Figure:
    """Counts of [[tn, fp], [fn, tp]] with the share of each true class."""
    figure = Figure(figsize=(4.5, 4), layout="constrained")
    axes = figure.subplots()
    axes.imshow(confusion, cmap="Blues")
    totals = confusion.sum(axis=1, keepdims=True).clip(min=1)
    for (row, column), count in np.ndenumerate(confusion):
        share = count / totals[row, 0]
        colour = "white" if count > confusion.max() / 2 else "black"
        axes.text(column, row, f"{count}\n{share:.1%}", ha="center", va="center", color=colour)
    axes.set_xticks([0, 1], ["negative", "positive"])
    axes.set_yticks([0, 1], ["negative", "positive"])
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title("test confusion matrix")
    return figure


def roc_curve_figure(labels: np.ndarray, probabilities: np.ndarray, auc: float | None) -> Figure:
    """The ROC curve of the test predictions against chance (undefined with one class)."""
    figure = Figure(figsize=(4.5, 4), layout="constrained")
    axes = figure.subplots()
    if auc is None:
        axes.text(0.5, 0.5, "ROC undefined:\nthe test set has one class", ha="center")
    else:
        false_positive_rate, true_positive_rate, _ = roc_curve(labels, probabilities)
        axes.plot(false_positive_rate, true_positive_rate, label=f"model (AUC {auc:.3f})")
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="chance")
    axes.set_xlabel("false positive rate")
    axes.set_ylabel("true positive rate")
    axes.set_title("test ROC curve")
    axes.legend(loc="lower right")
    return figure
