"""Temperature scaling and expected calibration error."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_sentiment.calibration import (
    MIN_TEMPERATURE,
    calibration_report,
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
    sigmoid,
)
from imdb_sentiment.evaluation import log_loss


def calibrated_sample(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True logits and labels drawn from them: sigmoid(z) is the exact probability."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 2.0, n)
    return z, (rng.random(n) < sigmoid(z)).astype(np.int64)


def test_an_overconfident_model_gets_its_temperature_back() -> None:
    z, y = calibrated_sample(20_000, 0)
    temperature = fit_temperature(3.0 * z, y)  # logits three times too sharp
    assert temperature == pytest.approx(3.0, rel=0.05)
    assert fit_temperature(0.5 * z, y) == pytest.approx(0.5, rel=0.05)


def test_the_fitted_temperature_minimises_the_log_loss() -> None:
    z, y = calibrated_sample(3_000, 1)
    logits = 2.2 * z + 0.3
    best = fit_temperature(logits, y)
    at_best = log_loss(y, sigmoid(logits / best))
    for other in (best * 0.97, best * 1.03, 1.0):
        assert at_best <= log_loss(y, sigmoid(logits / other)) + 1e-12


def test_separable_logits_stop_at_the_bound_and_bad_input_names_the_row() -> None:
    assert fit_temperature(np.array([-3.0, -1.0, 2.0, 5.0]), np.array([0, 0, 1, 1])) == (
        MIN_TEMPERATURE
    )
    with pytest.raises(ValueError, match="logit at row 1 is nan"):
        fit_temperature(np.array([0.1, np.nan]), np.array([0, 1]))
    with pytest.raises(ValueError, match="label at row 0 is 2"):
        fit_temperature(np.array([0.1, 0.2]), np.array([2, 1]))
    with pytest.raises(ValueError, match="no reviews"):
        fit_temperature(np.array([]), np.array([]))


def test_ece_by_hand() -> None:
    labels = np.array([1, 1, 0, 0, 1])
    probabilities = np.array([0.95, 0.85, 0.15, 0.6, 0.55])
    # confidences 0.95, 0.85, 0.85, 0.6, 0.55; right: yes, yes, yes, no, yes
    # bins (0.9, 1]: {0.95} gap 0.05; (0.8, 0.9]: {0.85, 0.85} gap 0.15; (0.5, 0.6]: {0.6, 0.55}
    # accuracy 0.5, confidence 0.575, gap 0.075
    expected = (1 * 0.05 + 2 * 0.15 + 2 * 0.075) / 5
    assert expected_calibration_error(labels, probabilities) == pytest.approx(expected)
    binned = reliability_bins(labels, probabilities)
    assert binned.counts.tolist() == [0, 0, 0, 0, 0, 2, 0, 0, 2, 1]
    assert np.isnan(binned.accuracy[0]) and binned.accuracy[5] == 0.5


def test_calibration_lowers_ece_on_held_out_reviews() -> None:
    z, y = calibrated_sample(6_000, 2)
    logits = 4.0 * z
    temperature = fit_temperature(logits[:3_000], y[:3_000])  # "validation"
    held_out = slice(3_000, None)  # "test"
    report = calibration_report(
        y[held_out], sigmoid(logits[held_out]), sigmoid(logits[held_out] / temperature)
    )
    assert report["ece"] < 0.03 < report["ece_uncalibrated"]
    assert report["log_loss"] < report["log_loss_uncalibrated"]
    assert report["mean_confidence"] < report["mean_confidence_uncalibrated"]
