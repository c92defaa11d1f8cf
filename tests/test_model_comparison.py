"""The model beside the baselines: the same metrics for each, paired tests, names for MLflow."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_sentiment.evaluation import classification_metrics
from imdb_sentiment.model_comparison import (
    MODEL,
    compare_models,
    comparison_markdown,
    comparison_metrics,
)


def test_every_model_gets_the_same_metrics_and_the_model_a_paired_test() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 400)
    good = np.clip(labels * 0.6 + 0.2 + rng.normal(0, 0.15, 400), 0, 1)
    weak = np.clip(labels * 0.2 + 0.4 + rng.normal(0, 0.15, 400), 0, 1)
    comparison = compare_models(labels, {MODEL: good, "tfidf_lr": weak})
    assert comparison["n"] == 400
    expected = classification_metrics(labels, weak)
    for key in ("accuracy", "f1", "roc_auc", "log_loss"):
        assert comparison["models"]["tfidf_lr"][key] == pytest.approx(expected[key])
    pair = comparison["paired"]["tfidf_lr"]
    right_model = (good >= 0.5) == (labels == 1)
    right_base = (weak >= 0.5) == (labels == 1)
    assert pair["model_only_right"] == int(np.sum(right_model & ~right_base))
    assert pair["baseline_only_right"] == int(np.sum(~right_model & right_base))
    assert pair["mcnemar_p_value"] < 1e-3 and pair["accuracy_difference"] > 0
    flat = comparison_metrics("extra_test", comparison)
    assert flat["extra_test_accuracy"] == comparison["models"][MODEL]["accuracy"]
    assert flat["baseline_tfidf_lr_extra_test_ece"] == comparison["models"]["tfidf_lr"]["ece"]
    assert flat["extra_test_mcnemar_p_tfidf_lr"] == pair["mcnemar_p_value"]
    assert "test_accuracy" not in comparison_metrics("test", comparison, include_model=False)
    table = comparison_markdown({"extra_test": comparison}, "bilstm-1x64")
    assert "## extra_test (400 reviews)" in table
    assert "| bilstm-1x64 |" in table and "| tfidf_lr (linear baseline) |" in table


def test_an_empty_set_is_reported_as_such() -> None:
    assert compare_models(np.array([]), {MODEL: np.array([])}) == {
        "n": 0,
        "models": {},
        "paired": {},
    }
    assert comparison_markdown({"extra_test": {"n": 0}}, "m") == "No labelled set was scored.\n"
