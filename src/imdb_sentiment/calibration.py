"""Temperature scaling and calibration error (numpy only).

A model's probability of positive is ``sigmoid(logit / T)``. The temperature ``T`` > 0 is fitted
on the validation split's logits (Guo et al., 2017: one parameter, so it cannot overfit the way a
per-bin method can, and it never changes which side of 0.5 a review falls on). The expected
calibration error (ECE) uses the confidence of the predicted class in equal-width bins over
[0, 1], Guo et al.'s definition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from imdb_sentiment.evaluation import log_loss

# 1/T is searched in [1/MAX_TEMPERATURE, 1/MIN_TEMPERATURE]. A model that separates the
# validation split perfectly would send T to 0; the bound keeps it finite.
MIN_TEMPERATURE = 1e-2
MAX_TEMPERATURE = 1e2
SEARCH_STEPS = 200  # bisection halvings of log(1/T): far below float precision
ECE_BINS = 10
TEMPERATURE_KEY = "temperature"  # where a model checkpoint keeps its fitted temperature


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large logits."""
    z = np.asarray(logits, dtype=np.float64)
    out = np.empty_like(z)
    positive = z >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-z[positive]))
    exp_z = np.exp(z[~positive])
    out[~positive] = exp_z / (1.0 + exp_z)
    return out


def _checked(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(logits, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1)
    if len(z) != len(y):
        raise ValueError(f"calibration: {len(z)} logits but {len(y)} labels")
    if len(z) == 0:
        raise ValueError("calibration: no reviews to fit a temperature on")
    if not np.isfinite(z).all():
        row = int(np.flatnonzero(~np.isfinite(z))[0])
        raise ValueError(f"calibration: logit at row {row} is {float(z[row])}, not finite")
    if not np.isin(y, (0, 1)).all():
        row = int(np.flatnonzero(~np.isin(y, (0, 1)))[0])
        raise ValueError(f"calibration: label at row {row} is {y[row].item()!r}, not 0 or 1")
    return z, y.astype(np.float64)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the NLL of ``sigmoid(logits / T)`` on these reviews.

    The NLL is convex in ``b = 1 / T`` and its derivative ``mean(z * (sigmoid(b z) - y))`` rises
    with ``b``, so bisecting on the derivative's sign (in log space) finds the minimum exactly
    and deterministically, within [MIN_TEMPERATURE, MAX_TEMPERATURE].
    """
    z, y = _checked(logits, labels)

    def slope(inverse_temperature: float) -> float:
        return float(np.mean(z * (sigmoid(inverse_temperature * z) - y)))

    low, high = np.log(1.0 / MAX_TEMPERATURE), np.log(1.0 / MIN_TEMPERATURE)
    if slope(np.exp(high)) <= 0:  # still improving at the sharpest bound: separable
        return MIN_TEMPERATURE
    if slope(np.exp(low)) >= 0:  # the logits carry no usable signal: flattest bound
        return MAX_TEMPERATURE
    for _ in range(SEARCH_STEPS):
        middle = 0.5 * (low + high)
        if slope(np.exp(middle)) > 0:
            high = middle
        else:
            low = middle
    return float(1.0 / np.exp(0.5 * (low + high)))


@dataclass(frozen=True)
class ReliabilityBins:
    """Per equal-width confidence bin: how many reviews, their mean confidence, their accuracy.

    Empty bins have count 0 and NaN confidence and accuracy.
    """

    edges: np.ndarray  # [bins + 1], 0 to 1
    counts: np.ndarray  # [bins] int
    confidence: np.ndarray  # [bins] mean confidence of the predicted class
    accuracy: np.ndarray  # [bins] share of reviews predicted right

    @property
    def ece(self) -> float:
        """Expected calibration error: the count-weighted mean |accuracy - confidence|."""
        filled = self.counts > 0
        gaps = np.abs(self.accuracy[filled] - self.confidence[filled])
        return float(np.sum(self.counts[filled] * gaps) / self.counts.sum())


def reliability_bins(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS
) -> ReliabilityBins:
    """Bin reviews by the confidence of their predicted class (positive at p >= 0.5).

    Bin ``k`` holds confidences in ``(k / bins, (k + 1) / bins]`` (the first bin includes 0).
    """
    if bins < 1:
        raise ValueError(f"calibration: bins must be >= 1, got {bins}")
    y = np.asarray(labels).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(y) != len(p) or len(y) == 0:
        raise ValueError(f"calibration: {len(y)} labels and {len(p)} probabilities")
    predicted = p >= 0.5
    confidence = np.where(predicted, p, 1.0 - p)
    correct = predicted == (y == 1)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=bins) / counts
        accuracy = np.bincount(which, correct.astype(np.float64), minlength=bins) / counts
    return ReliabilityBins(edges, counts, mean_confidence, accuracy)


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE over ``bins`` equal-width bins of the predicted class's confidence."""
    return reliability_bins(labels, probabilities, bins).ece


def mean_confidence(probabilities: np.ndarray) -> float:
    """The mean confidence of the predicted class, ``max(p, 1 - p)``."""
    p = np.asarray(probabilities, dtype=np.float64)
    return float(np.mean(np.maximum(p, 1.0 - p)))


def calibration_report(
    labels: np.ndarray,
    uncalibrated: np.ndarray,
    calibrated: np.ndarray,
    bins: int = ECE_BINS,
) -> dict[str, float]:
    """ECE, log loss and mean confidence of probabilities before and after calibration."""
    y = np.asarray(labels).reshape(-1)
    report: dict[str, float] = {"ece_bins": bins}
    for suffix, probabilities in (("_uncalibrated", uncalibrated), ("", calibrated)):
        report[f"ece{suffix}"] = expected_calibration_error(y, probabilities, bins)
        report[f"log_loss{suffix}"] = log_loss(y, probabilities)
        report[f"mean_confidence{suffix}"] = mean_confidence(probabilities)
    return report
