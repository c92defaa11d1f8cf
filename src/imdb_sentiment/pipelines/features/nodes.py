"""Features nodes: the vocabulary, the GloVe embedding matrix, reviews as id sequences.

Thin: :mod:`imdb_sentiment.vocabulary` and :mod:`imdb_sentiment.embeddings` do the work. Token
tables come in as :class:`~imdb_sentiment.batches.Batches` (or small pandas frames) and are read
a batch at a time; the encoded reviews go out lazily, a batch at a time, for the dataset to
write as one file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from imdb_sentiment.batches import Batches, Parts
from imdb_sentiment.embeddings import embedding_matrix
from imdb_sentiment.glove import GloVeVectors
from imdb_sentiment.parameters import FeaturesSettings, TokenizationSettings
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.vocabulary import Vocabulary, count_tokens, encode_review_batches

Tokens = Batches | pd.DataFrame


def build_vocabulary(
    train_tokens: Tokens, params: dict[str, Any], tokenization: dict[str, Any]
) -> Vocabulary:
    """The vocabulary of the training split only; it records the tokenizer settings."""
    settings = FeaturesSettings.from_dict(params, "features")
    return Vocabulary.from_counts(
        *count_tokens(train_tokens, "train_tokens"),
        max_size=settings.max_size,
        min_freq=settings.min_freq,
        tokenization=TokenizationSettings.from_dict(tokenization, "tokenization").tokenizer,
    )


def build_embedding_matrix(
    vocabulary: Vocabulary,
    glove_vectors: GloVeVectors,
    train_tokens: Tokens,
    params: dict[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """GloVe rows aligned with the vocabulary, and how much of it (and of train) GloVe covers."""
    settings = FeaturesSettings.from_dict(params, "features")
    return embedding_matrix(
        vocabulary,
        glove_vectors,
        count_tokens(train_tokens, "train_tokens"),
        unknown_init=settings.unknown_init,
        unknown_init_std=settings.unknown_init_std,
        seed=settings.seed,
        lowercase_fallback=settings.lowercase_fallback,
    )


def encode_split(tokens: Tokens, vocabulary: Vocabulary, split: str) -> Parts[EncodedReviews]:
    """One split's reviews as vocabulary ids, ``<unk>`` for words outside the vocabulary.

    Lazy: consecutive parts of the split, encoded as the dataset writes them.
    """
    return encode_review_batches(tokens, vocabulary, f"{split}_tokens")
