"""Predictions and metrics, checked against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from imdb_sentiment.evaluation import classification_metrics, roc_curve
from imdb_sentiment.inference import predict_probabilities
from imdb_sentiment.models.bilstm import BiLSTMConfig, SentimentLSTM
from imdb_sentiment.sequences import EncodedReviews


def scores(n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    # Rounded, so that many scores tie, and informative, so the AUC is far from 0.5.
    probabilities = np.clip(np.round(0.3 * labels + rng.uniform(0.05, 0.7, size=n), 2), 0, 1)
    return labels, probabilities


def test_metrics_match_scikit_learn():
    labels, probabilities = scores()
    result = classification_metrics(labels, probabilities)
    predicted = (probabilities >= 0.5).astype(int)
    assert result["n"] == 500
    assert result["accuracy"] == pytest.approx(skm.accuracy_score(labels, predicted))
    assert result["precision"] == pytest.approx(skm.precision_score(labels, predicted))
    assert result["recall"] == pytest.approx(skm.recall_score(labels, predicted))
    assert result["f1"] == pytest.approx(skm.f1_score(labels, predicted))
    assert result["roc_auc"] == pytest.approx(skm.roc_auc_score(labels, probabilities))
    assert result["log_loss"] == pytest.approx(skm.log_loss(labels, probabilities))
    assert result["confusion_matrix"] == skm.confusion_matrix(labels, predicted).tolist()
    assert 0.6 < result["roc_auc"] < 0.95


def test_wilson_interval():
    # 80 of 100: the Wilson 95% interval is about [0.7112, 0.8666].
    labels = np.r_[np.ones(80), np.zeros(20)].astype(int)
    result = classification_metrics(labels, np.full(100, 0.9))
    assert result["accuracy"] == 0.8
    assert result["accuracy_ci95_low"] == pytest.approx(0.71122, abs=1e-4)
    assert result["accuracy_ci95_high"] == pytest.approx(0.86661, abs=1e-4)
    perfect = classification_metrics([0, 1, 1], [0.1, 0.8, 0.9])
    assert perfect["accuracy_ci95_high"] == 1.0 and perfect["accuracy_ci95_low"] < 1.0


def test_threshold_degenerate_cases_and_clipping():
    result = classification_metrics([0, 0, 1], [0.0, 0.2, 0.4])  # nothing predicted positive
    assert result["precision"] == 0.0 and result["f1"] == 0.0
    assert result["confusion_matrix"] == [[2, 0], [1, 0]]
    assert result["roc_auc"] == 1.0
    assert np.isfinite(result["log_loss"])  # the 0.0 probability is clipped
    assert classification_metrics([1, 1], [0.6, 0.7])["roc_auc"] is None
    assert classification_metrics([0, 1], [0.3, 0.5], threshold=0.5)["accuracy"] == 1.0


def test_bad_metric_inputs_name_the_row():
    with pytest.raises(ValueError, match="2 labels but 3"):
        classification_metrics([0, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="row 1 has 2"):
        classification_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="row 0 has nan"):
        classification_metrics([0, 1], [np.nan, 0.2])


def test_roc_curve_matches_scikit_learn_and_integrates_to_the_auc():
    labels, probabilities = scores(seed=1)
    fpr, tpr, thresholds = roc_curve(labels, probabilities)
    sk_fpr, sk_tpr, sk_thresholds = skm.roc_curve(labels, probabilities, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thresholds[1:], sk_thresholds[1:])
    assert thresholds[0] == np.inf
    area = np.trapezoid(tpr, fpr)
    assert area == pytest.approx(classification_metrics(labels, probabilities)["roc_auc"])
    with pytest.raises(ValueError, match="both positive and negative"):
        roc_curve([1, 1], [0.2, 0.3])


def test_predictions_are_in_review_order_and_match_single_reviews():
    torch.manual_seed(0)
    model = SentimentLSTM(
        BiLSTMConfig(vocab_size=12, embedding_dim=4, padding_idx=0, hidden_dim=5)
    ).train()
    rng = np.random.default_rng(0)
    reviews = [rng.integers(1, 12, size=rng.integers(0, 15)).tolist() for _ in range(40)]
    encoded = EncodedReviews.from_lists(reviews, rng.integers(0, 2, size=40))
    probabilities = predict_probabilities(model, encoded, batch_size=7, device="cpu")
    assert probabilities.dtype == np.float32 and probabilities.shape == (40,)
    assert model.training  # the caller's mode is restored
    model.eval()
    with torch.no_grad():
        for i in (0, 17, 39):
            ids = torch.tensor([reviews[i] or [0]])
            expected = torch.sigmoid(model(ids, torch.tensor([ids.size(1)])))
            assert probabilities[i] == pytest.approx(float(expected), abs=1e-6)
    truncated = predict_probabilities(model, encoded, device="cpu", max_length=3)
    long_review = int(np.argmax(encoded.lengths))
    with torch.no_grad():
        ids = torch.tensor([reviews[long_review][:3]])
        expected = torch.sigmoid(model(ids, torch.tensor([3])))
    assert truncated[long_review] == pytest.approx(float(expected), abs=1e-6)


def test_mcnemar_exact_matches_the_binomial_test() -> None:
    from scipy.stats import binomtest  # noqa: PLC0415

    from imdb_sentiment.evaluation import mcnemar_exact  # noqa: PLC0415

    rng = np.random.default_rng(0)
    for a_only, b_only, both in ((12, 3, 50), (40, 41, 10), (0, 5, 7), (530, 92, 1378)):
        a = np.r_[np.ones(a_only), np.zeros(b_only), np.ones(both), np.zeros(9)].astype(bool)
        b = np.r_[np.zeros(a_only), np.ones(b_only), np.ones(both), np.zeros(9)].astype(bool)
        order = rng.permutation(len(a))
        result = mcnemar_exact(a[order], b[order])
        assert (result["a_only"], result["b_only"]) == (a_only, b_only)
        expected = binomtest(a_only, a_only + b_only, 0.5).pvalue
        assert result["p_value"] == pytest.approx(expected, rel=1e-9, abs=1e-300)
        assert result["accuracy_difference"] == pytest.approx((a_only - b_only) / len(a))
    same = np.array([True, False, True])
    assert mcnemar_exact(same, same)["p_value"] == 1.0
