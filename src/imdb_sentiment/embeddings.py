"""The embedding matrix: a GloVe row for every vocabulary word, and how much GloVe covers."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from imdb_sentiment.glove import GloVeVectors
from imdb_sentiment.vocabulary import Vocabulary

logger = logging.getLogger(__name__)

UNKNOWN_INITS = ("zeros", "random")


def glove_rows(words: list[str], index: dict[str, int], lowercase_fallback: bool) -> np.ndarray:
    """Row of each word in a GloVe index (-1 where absent); optionally retry it lowercased."""
    rows = np.fromiter((index.get(word, -1) for word in words), dtype=np.int64, count=len(words))
    if lowercase_fallback:
        for position in np.flatnonzero(rows < 0):
            rows[position] = index.get(words[position].lower(), -1)
    return rows


def embedding_matrix(  # noqa: PLR0917 - the features settings, spelled out
    vocabulary: Vocabulary,
    glove: GloVeVectors,
    train_counts: tuple[pa.Array, np.ndarray],
    unknown_init: str = "zeros",
    unknown_init_std: float = 0.1,
    seed: int = 0,
    lowercase_fallback: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The float32 ``[len(vocabulary), dim]`` matrix of GloVe rows, and how much GloVe covers.

    Words GloVe lacks, and ``<unk>``, get ``unknown_init``: ``zeros`` (torchtext's default, as
    in the baseline recipe) or ``random`` normal with ``unknown_init_std`` and ``seed``.
    ``<pad>`` is zero. Coverage counts the vocabulary's words and the training split's tokens,
    given as ``train_counts`` (distinct tokens and their counts: ``vocabulary.count_tokens``).
    """
    if unknown_init not in UNKNOWN_INITS:
        raise ValueError(f"unknown_init must be one of {UNKNOWN_INITS}, got {unknown_init!r}")
    vectors = np.asarray(glove.vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(glove.words):
        raise ValueError(
            f"glove_vectors ({glove.source}): {len(glove.words)} words but "
            f"vectors of shape {vectors.shape}"
        )
    index = glove.index()
    rows = glove_rows(list(vocabulary.itos), index, lowercase_fallback)
    rows[[vocabulary.pad_index, vocabulary.unk_index]] = -1  # specials never take a GloVe row
    found = rows >= 0

    matrix = np.zeros((len(vocabulary), vectors.shape[1]), dtype=np.float32)
    if unknown_init == "random":
        rng = np.random.default_rng(seed)
        matrix[:] = rng.normal(0.0, unknown_init_std, size=matrix.shape).astype(np.float32)
    matrix[found] = vectors[rows[found]]
    matrix[vocabulary.pad_index] = 0.0

    coverage = {
        "source": glove.source,
        "dim": glove.dim,
        "unknown_init": unknown_init,
        **_coverage(vocabulary, int(found.sum()), index, train_counts, lowercase_fallback),
    }
    logger.info(
        "GloVe %s (%dd) covers %.1f%% of %d vocabulary words and %.1f%% of %d train tokens",
        coverage["source"],
        coverage["dim"],
        100 * coverage["vocabulary_share_found"],
        coverage["vocabulary_words"],
        100 * coverage["train_token_share_found"],
        coverage["train_tokens"],
    )
    return matrix, coverage


def _coverage(
    vocabulary: Vocabulary,
    words_found: int,
    index: dict[str, int],
    train_counts: tuple[pa.Array, np.ndarray],
    lowercase_fallback: bool,
) -> dict[str, Any]:
    """Shares of vocabulary words and of all train tokens that have a GloVe vector."""
    words, counts = train_counts
    distinct = words.to_pylist()
    in_glove = glove_rows(distinct, index, lowercase_fallback) >= 0
    in_vocabulary = np.asarray(
        pc.is_in(words, value_set=pa.array(vocabulary.words, words.type)), dtype=bool
    )
    total = int(counts.sum())
    n_words = len(vocabulary.words)
    found_tokens = int(counts[in_glove].sum())
    vocabulary_tokens = int(counts[in_vocabulary].sum())
    return {
        "lowercase_fallback": lowercase_fallback,
        "vocabulary_words": n_words,
        "vocabulary_words_found": words_found,
        "vocabulary_share_found": words_found / n_words if n_words else 0.0,
        "train_tokens": total,
        "train_tokens_found": found_tokens,
        "train_token_share_found": found_tokens / total if total else 0.0,
        "train_distinct_tokens": len(distinct),
        "train_distinct_tokens_found": int(in_glove.sum()),
        "train_tokens_in_vocabulary": vocabulary_tokens,
        "train_token_share_in_vocabulary": vocabulary_tokens / total if total else 0.0,
    }
