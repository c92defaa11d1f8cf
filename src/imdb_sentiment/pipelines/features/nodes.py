"""Features nodes: vocabulary, GloVe embedding matrix and reviews as id sequences.

Token columns are handled as Arrow arrays: the 13.5M tokens of IMDB are flattened,
dictionary-encoded and mapped once per distinct token, never one Python string at a time.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdb_sentiment.glove import GloVeVectors
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.vocabulary import encode_token_lists

logger = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1
UNKNOWN_INITS = ("zeros", "random")


def token_lists(tokens: pd.DataFrame, name: str) -> pa.ListArray:
    """The ``tokens`` column of a tokens table as one Arrow list array, checked for nulls."""
    if "tokens" not in tokens.columns:
        raise ValueError(f"{name}: no 'tokens' column (columns: {list(tokens.columns)})")
    column = tokens["tokens"]
    if isinstance(column.dtype, pd.ArrowDtype):
        lists = pa.array(column.array)
        if isinstance(lists, pa.ChunkedArray):
            lists = lists.combine_chunks()
    else:
        try:
            lists = pa.array(column, type=pa.list_(pa.string()), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(f"{name}: 'tokens' must hold lists of strings ({error})") from error
    if not (pa.types.is_list(lists.type) or pa.types.is_large_list(lists.type)) or not (
        pa.types.is_string(lists.type.value_type) or pa.types.is_large_string(lists.type.value_type)
    ):
        raise ValueError(f"{name}: 'tokens' must hold lists of strings, got {lists.type}")
    if lists.null_count:
        row = int(np.flatnonzero(np.asarray(lists.is_null()))[0])
        raise ValueError(f"{name}: 'tokens' is null at row {row}")
    if lists.flatten().null_count:
        lengths = np.asarray(lists.value_lengths())
        first = int(np.flatnonzero(np.asarray(lists.flatten().is_null()))[0])
        row = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise ValueError(f"{name}: 'tokens' row {row} holds a null token")
    return lists


def token_counts(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    """Distinct tokens in order of first appearance, and how often each occurs."""
    encoded = pc.dictionary_encode(lists.flatten())
    counts = np.bincount(
        np.asarray(encoded.indices, dtype=np.int64), minlength=len(encoded.dictionary)
    )
    return encoded.dictionary, counts


def build_vocabulary(
    train_tokens: pd.DataFrame,
    params: dict[str, Any],
    tokenization: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``<pad>``, ``<unk>``, then train words by descending frequency (ties: first appearance).

    At most ``max_size`` words besides the specials (null: no cap), each seen at least
    ``min_freq`` times, from the training split only. ``tokenization`` (the tokenizer's
    parameters) is recorded so that whoever encodes new text tokenizes it the same way.
    """
    max_size = params.get("max_size")
    min_freq = int(params.get("min_freq", 1))
    if max_size is not None and int(max_size) < 0:
        raise ValueError(f"features.max_size must be >= 0 or null, got {max_size}")
    if min_freq < 1:
        raise ValueError(f"features.min_freq must be >= 1, got {min_freq}")
    words, counts = token_counts(token_lists(train_tokens, "train_tokens"))
    order = np.argsort(-counts, kind="stable")
    order = order[counts[order] >= min_freq]
    ranked = [word for word in words.take(pa.array(order)).to_pylist() if word not in (PAD, UNK)]
    if max_size is not None:
        ranked = ranked[: int(max_size)]
    vocabulary: dict[str, Any] = {
        "itos": [PAD, UNK, *ranked],
        "pad_index": PAD_INDEX,
        "unk_index": UNK_INDEX,
        "max_size": None if max_size is None else int(max_size),
        "min_freq": min_freq,
        "train_tokens": int(counts.sum()),
        "train_distinct_tokens": len(counts),
    }
    if tokenization is not None:
        vocabulary["tokenization"] = {
            key: tokenization[key] for key in ("spacy_model", "lowercase") if key in tokenization
        }
        vocabulary["lowercase"] = bool(tokenization.get("lowercase", False))
    logger.info(
        "Vocabulary: %d words + 2 specials from %d distinct train tokens (%d tokens)",
        len(ranked),
        len(counts),
        vocabulary["train_tokens"],
    )
    return vocabulary


def _itos(vocabulary: dict[str, Any]) -> list[str]:
    """The vocabulary's words, checked for the layout every consumer relies on."""
    itos = vocabulary.get("itos")
    if not isinstance(itos, list) or len(itos) < 2:
        raise ValueError("vocabulary: 'itos' must be a list starting with <pad>, <unk>")
    if vocabulary.get("pad_index") != PAD_INDEX or vocabulary.get("unk_index") != UNK_INDEX:
        raise ValueError(
            f"vocabulary: expected pad_index {PAD_INDEX} and unk_index {UNK_INDEX}, got "
            f"{vocabulary.get('pad_index')} and {vocabulary.get('unk_index')}"
        )
    return itos


def _glove_rows(words: list[str], index: dict[str, int], lowercase_fallback: bool) -> np.ndarray:
    """Row of each word in a GloVe index (-1 where absent); optionally retry it lowercased."""
    rows = np.fromiter((index.get(word, -1) for word in words), dtype=np.int64, count=len(words))
    if lowercase_fallback:
        for position in np.flatnonzero(rows < 0):
            rows[position] = index.get(words[position].lower(), -1)
    return rows


def build_embedding_matrix(
    vocabulary: dict[str, Any],
    glove_vectors: GloVeVectors,
    train_tokens: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[np.ndarray, dict[str, Any]]:
    """The float32 ``[len(itos), dim]`` matrix of GloVe rows, and how much GloVe covers.

    Words GloVe lacks, and ``<unk>``, get ``unknown_init``: ``zeros`` (the seed's torchtext
    default) or ``random`` normal with ``unknown_init_std`` and ``seed``. ``<pad>`` is zero.
    """
    itos = _itos(vocabulary)
    init = params.get("unknown_init", "zeros")
    if init not in UNKNOWN_INITS:
        raise ValueError(f"features.unknown_init must be one of {UNKNOWN_INITS}, got {init!r}")
    vectors = np.asarray(glove_vectors.vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(glove_vectors.words):
        raise ValueError(
            f"glove_vectors ({glove_vectors.source}): {len(glove_vectors.words)} words but "
            f"vectors of shape {vectors.shape}"
        )
    fallback = bool(params.get("lowercase_fallback", False))
    index = glove_vectors.index()
    rows = _glove_rows(itos, index, fallback)
    rows[PAD_INDEX] = rows[UNK_INDEX] = -1  # specials never take a GloVe row
    found = rows >= 0

    matrix = np.zeros((len(itos), vectors.shape[1]), dtype=np.float32)
    if init == "random":
        rng = np.random.default_rng(int(params.get("seed", 0)))
        std = float(params.get("unknown_init_std", 0.1))
        matrix[:] = rng.normal(0.0, std, size=matrix.shape).astype(np.float32)
    matrix[found] = vectors[rows[found]]
    matrix[PAD_INDEX] = 0.0

    coverage = {
        "source": glove_vectors.source,
        "dim": glove_vectors.dim,
        "unknown_init": init,
        **_coverage(itos, found, index, train_tokens, fallback),
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
    itos: list[str],
    found: np.ndarray,
    index: dict[str, int],
    train_tokens: pd.DataFrame,
    lowercase_fallback: bool,
) -> dict[str, Any]:
    """Shares of vocabulary words and of all train tokens that have a GloVe vector."""
    words, counts = token_counts(token_lists(train_tokens, "train_tokens"))
    distinct = words.to_pylist()
    in_glove = _glove_rows(distinct, index, lowercase_fallback) >= 0
    vocabulary_words = set(itos[2:])
    in_vocabulary = np.fromiter(
        (word in vocabulary_words for word in distinct), dtype=bool, count=len(distinct)
    )
    total = int(counts.sum())
    n_words = len(itos) - 2
    found_tokens = int(counts[in_glove].sum())
    vocabulary_tokens = int(counts[in_vocabulary].sum())
    return {
        "lowercase_fallback": lowercase_fallback,
        "vocabulary_words": n_words,
        "vocabulary_words_found": int(found[2:].sum()),
        "vocabulary_share_found": float(found[2:].sum() / n_words) if n_words else 0.0,
        "train_tokens": total,
        "train_tokens_found": found_tokens,
        "train_token_share_found": found_tokens / total if total else 0.0,
        "train_distinct_tokens": len(distinct),
        "train_distinct_tokens_found": int(in_glove.sum()),
        "train_tokens_in_vocabulary": vocabulary_tokens,
        "train_token_share_in_vocabulary": vocabulary_tokens / total if total else 0.0,
    }


def _labels(tokens: pd.DataFrame, name: str) -> np.ndarray:
    """The 0/1 labels as int8; anything else names the row and review id."""
    for column in ("id", "label"):
        if column not in tokens.columns:
            raise ValueError(f"{name}: no {column!r} column (columns: {list(tokens.columns)})")
    labels = pd.to_numeric(tokens["label"], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )
    bad = np.flatnonzero(~np.isin(labels, (0.0, 1.0)))
    if len(bad):
        row = int(bad[0])
        raise ValueError(
            f"{name}: label {tokens['label'].iloc[row]} at row {row} "
            f"(id {tokens['id'].iloc[row]}) is not 0 or 1"
        )
    return labels.astype(np.int8)


def encode_reviews(
    tokens: pd.DataFrame, vocabulary: dict[str, Any], name: str = "tokens"
) -> EncodedReviews:
    """Each review's tokens as vocabulary ids, ``<unk>`` for words outside the vocabulary."""
    lists = token_lists(tokens, name)
    labels = _labels(tokens, name)
    ids, offsets = encode_token_lists(lists, _itos(vocabulary), UNK_INDEX)
    return EncodedReviews(
        ids=ids,
        offsets=offsets,
        labels=labels,
        review_ids=tokens["id"].to_numpy(dtype=np.int64),
    )


def encode_train(tokens: pd.DataFrame, vocabulary: dict[str, Any]) -> EncodedReviews:
    """Encode the training split."""
    return encode_reviews(tokens, vocabulary, "train_tokens")


def encode_valid(tokens: pd.DataFrame, vocabulary: dict[str, Any]) -> EncodedReviews:
    """Encode the validation split."""
    return encode_reviews(tokens, vocabulary, "valid_tokens")


def encode_test(tokens: pd.DataFrame, vocabulary: dict[str, Any]) -> EncodedReviews:
    """Encode the test split."""
    return encode_reviews(tokens, vocabulary, "test_tokens")
