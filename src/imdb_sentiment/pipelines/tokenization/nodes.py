"""Tokenization nodes: a reviews table in, the same reviews as token lists out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from imdb_sentiment.batches import Batches, as_batches
from imdb_sentiment.parameters import TokenizationSettings
from imdb_sentiment.text import tokenize_review_batches

REQUIRED_COLUMNS = ("id", "text", "label")


def tokenize_reviews(
    reviews: Batches | pd.DataFrame, params: dict[str, Any], split: str
) -> Batches:
    """Columns ``id``, ``label``, ``tokens`` (a list of token strings per review), order kept.

    Lazy: the reviews are tokenized a batch at a time while the result is written, with one
    tokenizer (and worker pool) for the whole split. ``split`` names the dataset in errors
    and logs.
    """
    reviews = as_batches(reviews)
    missing = [column for column in REQUIRED_COLUMNS if column not in reviews.schema.names]
    if missing:
        raise ValueError(f"{split}_reviews: missing column(s) {missing}")
    settings = TokenizationSettings.from_dict(params, "tokenization")
    return tokenize_review_batches(
        reviews,
        settings.tokenizer,
        n_workers=settings.n_workers,
        chunk_size=settings.chunk_size,
        max_cached_pieces=settings.max_cached_pieces,
        name=f"{split}_reviews",
    )
