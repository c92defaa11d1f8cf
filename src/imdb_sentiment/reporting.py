"""The report plots: training curves, confusion matrix, ROC curve, reliability diagram, the
model beside the baselines."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from imdb_sentiment.calibration import ECE_BINS, reliability_bins  # noqa: E402
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


def reliability_diagram_figure(
    labels: np.ndarray,
    uncalibrated: np.ndarray,
    calibrated: np.ndarray,
    bins: int = ECE_BINS,
    temperature: float | None = None,
) -> Figure:
    """Accuracy against confidence per equal-width bin, before and after the temperature.

    A calibrated model's bars follow the diagonal; the grey bars (right axis) count reviews.
    """
    figure = Figure(figsize=(10, 4.2), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    after = "calibrated" if temperature is None else f"calibrated (T = {temperature:.2f})"
    for axes, probabilities, title in (
        (panels[0], uncalibrated, "uncalibrated"),
        (panels[1], calibrated, after),
    ):
        binned = reliability_bins(labels, probabilities, bins)
        centres = (binned.edges[:-1] + binned.edges[1:]) / 2
        width = 1.0 / bins
        filled = binned.counts > 0
        axes.bar(
            centres[filled],
            binned.accuracy[filled],
            width=width * 0.9,
            color="tab:blue",
            alpha=0.8,
            label="accuracy",
        )
        axes.plot([0, 1], [0, 1], color="grey", linestyle="--", label="perfect calibration")
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1)
        axes.set_xlabel("confidence of the predicted class")
        axes.set_title(f"{title}: ECE {binned.ece:.3f}")
        counts = axes.twinx()
        counts.bar(centres, binned.counts, width=width * 0.3, color="grey", alpha=0.5)
        counts.set_ylabel("reviews")
        axes.legend(loc="upper left")
    panels[0].set_ylabel("accuracy")
    return figure


def comparison_figure(accuracies: dict[str, tuple[float, float, float]], title: str) -> Figure:
    """Accuracy with its 95% interval per model (``name -> (accuracy, low, high)``)."""
    figure = Figure(figsize=(6, 0.6 * len(accuracies) + 1.4), layout="constrained")
    axes = figure.subplots()
    names = list(accuracies)
    values = np.array([accuracies[name] for name in names], dtype=np.float64)
    positions = np.arange(len(names))[::-1]
    axes.barh(positions, values[:, 0], color="tab:blue", alpha=0.8)
    axes.errorbar(
        values[:, 0],
        positions,
        # clipped: at 100% or 0% accuracy the interval's end can miss it by rounding
        xerr=np.clip([values[:, 0] - values[:, 1], values[:, 2] - values[:, 0]], 0, None),
        fmt="none",
        color="black",
        capsize=4,
    )
    for position, (value, _, high) in zip(positions, values, strict=True):
        axes.text(high, position, f" {value:.2%}", va="center", ha="left")
    axes.set_yticks(positions, names)
    low = max(0.0, float(values[:, 1].min()) - 0.05)
    axes.set_xlim(low, min(1.0, float(values[:, 2].max()) + 0.08))
    axes.set_xlabel("accuracy (95% CI)")
    axes.set_title(title)
    return figure
