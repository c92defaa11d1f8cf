"""Baseline nodes: thin wrappers around :mod:`imdb_sentiment.linear_baselines`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from imdb_sentiment.batches import Batches, whole_frame
from imdb_sentiment.linear_baselines import BASELINES, LinearBaseline
from imdb_sentiment.parameters import BaselinesSettings
from imdb_sentiment.vocabulary import token_lists


def fit_baseline(
    train_tokens: Batches | pd.DataFrame,
    valid_tokens: Batches | pd.DataFrame,
    params: dict[str, Any],
    baseline: str,
) -> LinearBaseline:
    """Fit ``baseline`` on the train tokens, its settings chosen on the validation tokens.

    Both token tables are read whole: the fits need every review's n-grams at once.
    """
    train_tokens, valid_tokens = whole_frame(train_tokens), whole_frame(valid_tokens)
    settings = getattr(BaselinesSettings.from_dict(params, "baselines"), baseline)
    _, fit = BASELINES[baseline]
    return fit(
        (token_lists(train_tokens, "train_tokens"), train_tokens["label"].to_numpy()),
        (token_lists(valid_tokens, "valid_tokens"), valid_tokens["label"].to_numpy()),
        settings,
    )


def baseline_run_facts(*baselines: LinearBaseline) -> dict[str, Any]:
    """What validation chose for each baseline, for MLflow's parameter table."""
    return {
        f"{model.name}.{key}": value for model in baselines for key, value in model.chosen.items()
    }
