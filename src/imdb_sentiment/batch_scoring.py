"""Batch prediction: a table of new reviews scored with the served model's own methods.

Rows that cannot be scored (missing, not text, empty) are set aside with their row number and
reason, never scored. The rest are scored in chunks: while the scoring process runs the network
on one chunk, ``n_workers`` forked processes tokenize and encode the next ones (spaCy and the
network each keep a core busy), exactly as :meth:`SentimentModel.encode` does in one process,
so the probabilities are those the served model gives.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.errors import ExpectedFailure
from imdb_sentiment.inference import torch_threads
from imdb_sentiment.parameters import PredictSettings
from imdb_sentiment.progress import Progress
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.serving import SentimentModel, unscorable_rows

logger = logging.getLogger(__name__)

SHOWN_REJECTS = 5  # rejected rows named in the log line; all of them are in the rejects table

# What a forked pool encodes; set by the parent just before forking, read by the workers.
_POOL_MODEL: SentimentModel | None = None
_POOL_TEXTS: Sequence[str] = ()


class PredictSourceError(ValueError, ExpectedFailure):
    """Reviews to score that cannot be scored at all (no text column, no usable row)."""


@dataclass
class ScoredTable:
    predictions: pd.DataFrame  # id, text, probability, label
    rejects: pd.DataFrame  # row, id, reason
    summary: dict[str, Any]


def _encode_chunk(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Worker side: ids and offsets of a slice of the texts inherited from the parent."""
    assert _POOL_MODEL is not None
    start, stop = bounds
    encoded = _POOL_MODEL.encode(_POOL_TEXTS[start:stop])
    return encoded.ids, encoded.offsets


def _encoded_chunks(
    model: SentimentModel, texts: Sequence[str], chunk_size: int, n_workers: int
) -> Iterator[EncodedReviews]:
    """The texts encoded chunk by chunk, in order; ahead of the caller when ``n_workers``."""
    global _POOL_MODEL, _POOL_TEXTS  # noqa: PLW0603 - handed to forked workers, then reset
    bounds = [(s, min(s + chunk_size, len(texts))) for s in range(0, len(texts), chunk_size)]
    if n_workers < 1 or len(bounds) < 2 or mp.current_process().daemon:
        for start, stop in bounds:
            yield model.encode(texts[start:stop])
        return
    _POOL_MODEL, _POOL_TEXTS = model, texts
    try:
        with mp.get_context("fork").Pool(min(n_workers, len(bounds))) as pool:
            for (start, stop), (ids, offsets) in zip(
                bounds, pool.imap(_encode_chunk, bounds), strict=True
            ):
                yield EncodedReviews(
                    ids=ids,
                    offsets=offsets,
                    labels=np.zeros(stop - start, dtype=np.int8),
                    review_ids=np.arange(start, stop, dtype=np.int64),
                )
    finally:
        _POOL_MODEL, _POOL_TEXTS = None, ()


def score_texts(
    model: SentimentModel, texts: Sequence[str], settings: PredictSettings
) -> np.ndarray:
    """Probabilities of positive for ``texts`` (all scorable), with progress reports."""
    probabilities = np.empty(len(texts), dtype=np.float64)
    done = 0
    progress = Progress(
        len(texts),
        "scoring",
        enabled=settings.progress,
        every_seconds=settings.log_every_seconds,
        log=logger,
    )
    with torch_threads(settings.torch_threads), progress:
        for encoded in _encoded_chunks(model, texts, settings.chunk_size, settings.n_workers):
            logits = model.logits(encoded, batch_size=settings.batch_size, device=settings.device)
            probabilities[done : done + len(encoded)] = model.probabilities(logits)
            done += len(encoded)
            progress.update(done)
    return probabilities


def score_table(
    table: pd.DataFrame,
    model: SentimentModel,
    settings: PredictSettings,
    threshold: float | None,
) -> ScoredTable:
    """Score the ``settings.text_column`` of every row that holds a review.

    ``threshold``: where the model has none (a local checkpoint), the label threshold.
    """
    source = table.attrs.get("source", "predict_source")
    if settings.text_column not in table.columns:
        raise PredictSourceError(
            f"{source} has no {settings.text_column!r} column (columns: "
            f"{', '.join(map(str, table.columns)) or 'none'}); name it with "
            "--params predict.text_column=NAME"
        )
    if len(table) == 0:
        raise PredictSourceError(f"{source} holds no reviews")
    values = table[settings.text_column].tolist()
    if settings.id_column in table.columns:
        ids = table[settings.id_column].reset_index(drop=True)
    else:
        ids = pd.Series(np.arange(len(table)), name=settings.id_column)
    bad = unscorable_rows(values)
    rejects = pd.DataFrame(
        {
            "row": np.fromiter(bad, dtype=np.int64, count=len(bad)),
            "id": ids.iloc[list(bad)].to_numpy(),
            "reason": list(bad.values()),
        }
    )
    if len(bad) == len(values):
        raise PredictSourceError(
            f"none of the {len(values)} rows of {source} can be scored: {_named(rejects)}"
        )
    if len(bad):
        logger.warning(
            "%d of %d rows of %s cannot be scored and are left out (all listed in "
            "prediction_rejects): %s",
            len(bad),
            len(values),
            source,
            _named(rejects),
        )
    keep = np.ones(len(values), dtype=bool)
    keep[list(bad)] = False
    texts = [value for value, kept in zip(values, keep, strict=True) if kept]
    label_threshold = model.threshold if model.threshold is not None else threshold

    started = time.perf_counter()
    probabilities = score_texts(model, texts, settings)
    seconds = time.perf_counter() - started
    labels = model.labels(probabilities, label_threshold)
    predictions = pd.DataFrame(
        {
            "id": ids[keep].to_numpy(),
            "text": texts,
            "probability": probabilities,
            "label": labels,
        }
    )
    checkpoint = model.checkpoint
    summary = {
        "source": str(source),
        "rows": len(values),
        "scored": len(texts),
        "rejected": len(bad),
        "positive": int(labels.sum()),
        "threshold": label_threshold,
        "seconds": round(seconds, 3),
        "reviews_per_second": round(len(texts) / seconds, 1) if seconds > 0 else None,
        "model_type": checkpoint.get("model_type"),
        "trained_in_run_id": checkpoint.get("mlflow_run_id"),
        "trained_in_run_name": checkpoint.get("mlflow_run_name"),
        "best_valid_accuracy": checkpoint.get("best_valid_accuracy"),
    }
    logger.info(
        "Scored %d reviews of %s in %.1f s (%.0f reviews/s): %d positive at threshold %s",
        len(texts),
        source,
        seconds,
        summary["reviews_per_second"] or 0,
        summary["positive"],
        label_threshold,
    )
    return ScoredTable(predictions=predictions, rejects=rejects, summary=summary)


def _named(rejects: pd.DataFrame) -> str:
    shown = [
        f"row {row} (id {id_}): {reason}"
        for row, id_, reason in rejects.head(SHOWN_REJECTS).itertuples(index=False)
    ]
    more = len(rejects) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")
