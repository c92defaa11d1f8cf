"""Predict nodes: thin wrappers around :mod:`imdb_sentiment.batch_scoring`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from imdb_sentiment.batch_scoring import score_table
from imdb_sentiment.parameters import PredictSettings
from imdb_sentiment.serving import SentimentModel


def predict_reviews(
    reviews: pd.DataFrame,
    model: SentimentModel,
    params: dict[str, Any],
    threshold: float,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Predictions (id, text, probability, label) for every row with a review, the rows left
    out (row, id, reason) and a summary. A registered model labels at its own threshold, a
    local checkpoint at ``evaluate.threshold`` (``threshold``)."""
    scored = score_table(reviews, model, PredictSettings.from_dict(params, "predict"), threshold)
    return scored.predictions, scored.rejects, scored.summary
