"""Binary classification metrics with a confidence interval (numpy only, no scikit-learn).

Predictions come from :mod:`imdb_sentiment.inference`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Z_95 = 1.959963984540054  # two-sided 95% normal quantile
LOG_LOSS_EPS = 1e-7


def _check_inputs(labels: Any, probabilities: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1)
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if len(y) != len(p):
        raise ValueError(f"{len(y)} labels but {len(p)} probabilities")
    if len(y) == 0:
        raise ValueError("no labels to evaluate")
    bad = ~np.isin(y, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"labels must be 0 or 1; row {row} has {y[row].item()!r}")
    bad = ~(np.isfinite(p) & (p >= 0) & (p <= 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"probabilities must be finite and in [0, 1]; row {row} has {p[row].item()!r}"
        )
    return y.astype(np.int64), p


def _roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """Mann-Whitney AUC with average ranks for ties; None when only one class is present."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return None
    order = np.argsort(p, kind="mergesort")
    sorted_p = p[order]
    # Average rank (1-based) for every run of equal scores.
    starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
    ends = np.r_[starts[1:], len(p)]
    run_ranks = (starts + 1 + ends) / 2.0
    ranks = np.empty(len(p), dtype=np.float64)
    ranks[order] = np.repeat(run_ranks, ends - starts)
    rank_sum = ranks[y == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def log_loss(labels: Any, probabilities: Any) -> float:
    """Mean binary cross-entropy, probabilities clipped to [1e-7, 1 - 1e-7]."""
    y = np.asarray(labels).reshape(-1)
    clipped = np.clip(
        np.asarray(probabilities, dtype=np.float64).reshape(-1), LOG_LOSS_EPS, 1 - LOG_LOSS_EPS
    )
    return float(-np.mean(np.where(y == 1, np.log(clipped), np.log1p(-clipped))))


def mcnemar_exact(correct_a: Any, correct_b: Any) -> dict[str, float | int]:
    """McNemar's exact test of two classifiers on the same reviews (paired).

    ``correct_a``/``correct_b``: per review, whether each was right. Only the reviews where
    exactly one is right count: ``a_only`` and ``b_only``; under the null hypothesis (equal
    accuracy) ``a_only`` is Binomial(a_only + b_only, 1/2). Two-sided p-value, exact.
    """
    a = np.asarray(correct_a, dtype=bool).reshape(-1)
    b = np.asarray(correct_b, dtype=bool).reshape(-1)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"McNemar: {len(a)} and {len(b)} paired outcomes")
    a_only, b_only = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n, k = a_only + b_only, min(a_only, b_only)
    if n == 0 or a_only == b_only:
        p_value = 1.0
    else:
        # log P(X = i) for i <= k, X ~ Binomial(n, 1/2); summed in log space (n up to 10^5+)
        terms = [
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2)
            for i in range(k + 1)
        ]
        top = max(terms)
        tail = math.exp(top) * sum(math.exp(t - top) for t in terms)
        p_value = min(1.0, 2.0 * tail)
    return {
        "a_only": a_only,
        "b_only": b_only,
        "accuracy_difference": float(a.mean() - b.mean()),
        "p_value": p_value,
    }


def _wilson(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    share = successes / n
    denominator = 1.0 + z * z / n
    centre = (share + z * z / (2 * n)) / denominator
    half = z * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def classification_metrics(
    labels: Any, probabilities: Any, threshold: float = 0.5
) -> dict[str, Any]:
    """Accuracy (with a Wilson 95% interval), precision, recall, F1, ROC AUC, log loss and the
    confusion matrix ``[[tn, fp], [fn, tp]]``; a review is predicted positive when its
    probability is >= ``threshold``. Undefined ROC AUC (one class only) is None.
    """
    y, p = _check_inputs(labels, probabilities)
    predicted = p >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    tn = int(np.sum(~predicted & (y == 0)))
    n = len(y)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    low, high = _wilson(tp + tn, n)
    return {
        "n": n,
        "threshold": float(threshold),
        "accuracy": (tp + tn) / n,
        "accuracy_ci95_low": low,
        "accuracy_ci95_high": high,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "roc_auc": _roc_auc(y, p),
        "log_loss": log_loss(y, p),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def roc_curve(labels: Any, probabilities: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` at every distinct score, from (0, 0) at threshold +inf.

    Matches ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``.
    """
    y, p = _check_inputs(labels, probabilities)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("a ROC curve needs both positive and negative labels")
    order = np.argsort(-p, kind="mergesort")
    sorted_p, sorted_y = p[order], y[order]
    last_of_run = np.r_[np.flatnonzero(np.diff(sorted_p)), len(p) - 1]
    tps = np.cumsum(sorted_y)[last_of_run]
    fps = last_of_run + 1 - tps
    tpr = np.r_[0.0, tps / positives]
    fpr = np.r_[0.0, fps / negatives]
    thresholds = np.r_[np.inf, sorted_p[last_of_run]]
    return fpr, tpr, thresholds
