"""Review tables (``id``, ``text``, ``label``) too big to hold: one pass for the facts, one to copy.

Ingestion decides which reviews to keep from a few facts per review (id, label, whether the
text is usable, a 128-bit key of the text) gathered in one pass over the batches, and then
copies the kept rows in a second pass. The texts themselves are never held all at once:
verbatim repeats (between train and test, or within train) are found by their keys.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa

from imdb_sentiment.batches import Batches

COLUMNS = ["id", "text", "label"]
REVIEW_SCHEMA = pa.schema([("id", pa.int64()), ("text", pa.string()), ("label", pa.int64())])


def text_key(text: str) -> str:
    """A 128-bit BLAKE2b digest of a text, in hex: equal texts have equal keys, and (at any
    corpus size met in practice, a collision chance below 1e-20) different texts different keys.

    Hex, not bytes: pandas turns a set of bytes into a numpy ``S16`` array, which drops trailing
    zero bytes, so ``isin`` would miss every key ending in one (1 in 256 of them).
    """
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def _usable(text: object) -> bool:
    """A text worth keeping: a string that is not empty or whitespace."""
    return isinstance(text, str) and bool(text.strip())


def _batch_keys(batch: pa.RecordBatch) -> list[str | None]:
    """The ``text_key`` of each text of a batch, None where the text is not usable."""
    return [text_key(text) if _usable(text) else None for text in batch.column("text").to_pylist()]


def text_keys(reviews: Batches) -> pd.Series:
    """The ``text_key`` of every review's text, in order (None where the text is not usable).

    One pass, a batch at a time: a 32-character key per review is kept, never the texts.
    """
    return pd.Series([key for batch in reviews for key in _batch_keys(batch)], dtype=object)


def review_facts(reviews: Batches, name: str) -> pd.DataFrame:
    """One row per review, in order: ``row`` (its position), ``id``, ``label``, ``usable``,
    ``text_key`` (None where the text is not usable).

    ``name`` (e.g. ``"train"``) is used in messages. Reads the table once, a batch at a time.
    """
    missing = [column for column in COLUMNS if column not in reviews.schema.names]
    if missing:
        raise ValueError(
            f"IMDB {name} table lacks column(s) {missing}; it has {reviews.schema.names}"
        )
    parts = []
    for batch in reviews:
        keys = _batch_keys(batch)
        parts.append(
            pd.DataFrame(
                {
                    "id": batch.column("id").to_pandas(),
                    "label": batch.column("label").to_pandas(),
                    "usable": np.array([key is not None for key in keys], dtype=bool),
                    "text_key": pd.Series(keys, dtype=object),
                }
            )
        )
    if not parts:
        facts = pd.DataFrame(
            {
                "id": pd.Series(dtype="int64"),
                "label": pd.Series(dtype="int64"),
                "usable": pd.Series(dtype=bool),
                "text_key": pd.Series(dtype=object),
            }
        )
    else:
        facts = pd.concat(parts, ignore_index=True)
    facts.insert(0, "row", np.arange(len(facts), dtype=np.int64))
    return facts


def select_reviews(reviews: Batches, rows: np.ndarray | pd.Series) -> Batches:
    """The reviews at the increasing positions ``rows``, lazily, as ``REVIEW_SCHEMA``."""

    def columns(batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.record_batch(
            [batch.column(c).cast(REVIEW_SCHEMA.field(c).type) for c in COLUMNS],
            schema=REVIEW_SCHEMA,
        )

    return reviews.take_rows(np.asarray(rows, dtype=np.int64)).map(columns, REVIEW_SCHEMA)
