"""Tokenization nodes: a reviews table in, the same reviews as token lists out."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from imdb_sentiment.parameters import TokenizationSettings
from imdb_sentiment.text import tokenize_to_arrow

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "text", "label")


def tokenize_reviews(reviews: pd.DataFrame, params: dict[str, Any], split: str) -> pd.DataFrame:
    """Columns ``id``, ``label``, ``tokens`` (an array of token strings per review), order kept.

    The token column holds numpy arrays of ``str``, as ``pd.read_parquet`` gives them back, so a
    fresh result and a reloaded one look alike (an Arrow-dtype column would write pandas
    metadata that plain ``pd.read_parquet`` and kedro-viz previews cannot read back).
    ``split`` only names the dataset in errors and logs.
    """
    missing = [column for column in REQUIRED_COLUMNS if column not in reviews.columns]
    if missing:
        raise ValueError(f"{split}_reviews: missing column(s) {missing}")
    is_text = reviews["text"].map(lambda text: isinstance(text, str)).to_numpy(dtype=bool)
    if not is_text.all():
        row = int(np.flatnonzero(~is_text)[0])
        raise TypeError(
            f"{split}_reviews: column 'text' row {row} (id {reviews['id'].iloc[row]}) is "
            f"{type(reviews['text'].iloc[row]).__name__}, not a string"
        )
    settings = TokenizationSettings.from_dict(params, "tokenization")
    started = time.perf_counter()
    tokens = tokenize_to_arrow(
        pa.array(reviews["text"], type=pa.large_string()),
        settings.tokenizer,
        n_workers=settings.n_workers,
        chunk_size=settings.chunk_size,
    )
    seconds = time.perf_counter() - started
    logger.info(
        "Tokenized %d %s reviews: %d tokens in %.1f s (%.0f tokens/s)",
        len(reviews),
        split,
        len(tokens.values),
        seconds,
        len(tokens.values) / max(seconds, 1e-9),
    )
    return pd.DataFrame(
        {
            "id": reviews["id"].to_numpy(dtype="int64"),
            "label": reviews["label"].to_numpy(dtype="int64"),
            "tokens": tokens.to_pandas().to_numpy(),
        }
    )
