"""The vocabulary: training-split words by frequency, and the ids that encode reviews with it.

Token columns are handled as Arrow arrays: the 13.5M tokens of IMDB are flattened,
dictionary-encoded and mapped once per distinct token, never one Python string at a time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from imdb_sentiment.batches import Batches, Parts, as_batches
from imdb_sentiment.errors import ExpectedFailure
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.text import TokenizerConfig

logger = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
# A table of token lists: a pandas frame, or an Arrow table or record batch (one of Batches).
TokenTable = pd.DataFrame | pa.Table | pa.RecordBatch
FINGERPRINT_KEY = "vocabulary_sha256"


@dataclass(frozen=True)
class Vocabulary:
    """Words by id (``itos``), the two special ids, and how the vocabulary was built.

    ``tokenization`` is the tokenizer the training tokens were made with, so that whoever
    encodes new text (the served model) tokenizes it the same way.
    """

    itos: tuple[str, ...]
    pad_index: int = 0
    unk_index: int = 1
    max_size: int | None = None
    min_freq: int = 1
    train_tokens: int = 0
    train_distinct_tokens: int = 0
    tokenization: TokenizerConfig | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "itos", tuple(self.itos))
        for name, word in (("pad_index", PAD), ("unk_index", UNK)):
            index = getattr(self, name)
            if not (isinstance(index, int) and 0 <= index < len(self.itos)) or (
                self.itos[index] != word
            ):
                raise ValueError(f"vocabulary: {name} {index!r} must be the id of {word}")

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def words(self) -> list[str]:
        """The words, without the special tokens."""
        specials = {self.pad_index, self.unk_index}
        return [word for index, word in enumerate(self.itos) if index not in specials]

    @classmethod
    def build(
        cls,
        lists: pa.ListArray,
        max_size: int | None = None,
        min_freq: int = 1,
        tokenization: TokenizerConfig | None = None,
    ) -> Vocabulary:
        """The vocabulary of token lists (the training split's), as :meth:`from_counts`."""
        return cls.from_counts(*token_counts(lists), max_size, min_freq, tokenization)

    @classmethod
    def from_counts(
        cls,
        words: pa.Array,
        counts: np.ndarray,
        max_size: int | None = None,
        min_freq: int = 1,
        tokenization: TokenizerConfig | None = None,
    ) -> Vocabulary:
        """``<pad>``, ``<unk>``, then words by descending frequency (ties: first appearance).

        ``words`` are the distinct training tokens in order of first appearance and ``counts``
        how often each occurs (:func:`token_counts`, :func:`count_tokens`). At most
        ``max_size`` words besides the specials (None: no cap), each seen at least
        ``min_freq`` times.
        """
        if max_size is not None and max_size < 1:
            raise ValueError(f"vocabulary: max_size must be >= 1 or None, got {max_size}")
        if min_freq < 1:
            raise ValueError(f"vocabulary: min_freq must be >= 1, got {min_freq}")
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] >= min_freq]
        if max_size is not None:
            order = order[: max_size + 2]  # the specials may be among them
        ranked = [w for w in words.take(pa.array(order)).to_pylist() if w not in (PAD, UNK)]
        if max_size is not None:
            ranked = ranked[:max_size]
        vocabulary = cls(
            itos=(PAD, UNK, *ranked),
            max_size=max_size,
            min_freq=min_freq,
            train_tokens=int(counts.sum()),
            train_distinct_tokens=len(counts),
            tokenization=tokenization,
        )
        logger.info(
            "Vocabulary: %d words + 2 specials from %d distinct train tokens (%d tokens)",
            len(ranked),
            len(counts),
            vocabulary.train_tokens,
        )
        return vocabulary

    def encode(self, lists: pa.ListArray) -> tuple[np.ndarray, np.ndarray]:
        """Flat int32 ids and int64 offsets of token lists; other words become ``<unk>``.

        Each distinct token is looked up once (dictionary encoding), not once per occurrence.
        """
        encoded = pc.dictionary_encode(lists.flatten())
        stoi = {word: index for index, word in enumerate(self.itos)}
        distinct_ids = np.fromiter(
            (stoi.get(word, self.unk_index) for word in encoded.dictionary.to_pylist()),
            dtype=np.int32,
            count=len(encoded.dictionary),
        )
        ids = distinct_ids[np.asarray(encoded.indices, dtype=np.int64)]
        offsets = np.zeros(len(lists) + 1, dtype=np.int64)
        np.cumsum(np.asarray(lists.value_lengths(), dtype=np.int64), out=offsets[1:])
        return ids, offsets

    def fingerprint(self) -> str:
        """SHA-256 of the words in id order: equal only for the same id-to-word mapping."""
        return hashlib.sha256("\n".join(self.itos).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``data/03_primary/vocabulary.json``)."""
        data: dict[str, Any] = {
            "itos": list(self.itos),
            "pad_index": self.pad_index,
            "unk_index": self.unk_index,
            "max_size": self.max_size,
            "min_freq": self.min_freq,
            "train_tokens": self.train_tokens,
            "train_distinct_tokens": self.train_distinct_tokens,
        }
        if self.tokenization is not None:
            data["tokenization"] = {
                "spacy_model": self.tokenization.spacy_model,
                "lowercase": self.tokenization.lowercase,
            }
            data["lowercase"] = self.tokenization.lowercase  # as files before the type had it
        return data

    @classmethod
    def from_dict(cls, data: Any, where: str = "vocabulary") -> Vocabulary:
        """Read :meth:`to_dict`'s form; a missing or bad key names ``where``."""
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
        known = {*cls.__dataclass_fields__, "lowercase"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}")
        itos = data.get("itos")
        if not isinstance(itos, list) or not all(isinstance(word, str) for word in itos):
            raise ValueError(f"{where}: 'itos' must be a list of words")
        tokenization = data.get("tokenization")
        fields = {key: value for key, value in data.items() if key not in ("lowercase", "itos")}
        if tokenization is not None:
            fields["tokenization"] = TokenizerConfig.from_params(tokenization)
        try:
            return cls(itos=tuple(itos), **fields)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from error


def _column(tokens: TokenTable, column: str, name: str) -> pd.Series | pa.Array:
    """One column of a tokens table; a missing column names the table and its columns."""
    columns = list(tokens.columns) if isinstance(tokens, pd.DataFrame) else tokens.schema.names
    if column not in columns:
        raise ValueError(f"{name}: no {column!r} column (columns: {columns})")
    return tokens[column] if isinstance(tokens, pd.DataFrame) else tokens.column(column)


def _series(tokens: TokenTable, column: str, name: str) -> pd.Series:
    """One column as a pandas series (ids and labels: a few bytes per review)."""
    values = _column(tokens, column, name)
    return values if isinstance(values, pd.Series) else values.to_pandas()


def _parts(tokens: Batches | TokenTable) -> Iterator[tuple[TokenTable, int]]:
    """The tables of ``tokens`` a batch at a time (a pandas frame whole), with their first row."""
    row = 0
    for part in [tokens] if isinstance(tokens, pd.DataFrame) else as_batches(tokens):
        yield part, row
        row += len(part)


def token_lists(tokens: TokenTable, name: str, first_row: int = 0) -> pa.ListArray:
    """The ``tokens`` column of a tokens table as one Arrow list array, checked for nulls.

    ``tokens`` is a pandas frame or an Arrow table or record batch; ``first_row`` is the row
    number of its first row in the whole split (for messages about a batch of it).
    """
    column = _column(tokens, "tokens", name)
    if isinstance(column, pa.ChunkedArray | pa.Array):
        lists = column
    elif isinstance(column.dtype, pd.ArrowDtype):
        lists = pa.array(column.array)
    else:
        try:
            lists = pa.array(column, type=pa.list_(pa.string()), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(f"{name}: 'tokens' must hold lists of strings ({error})") from error
    if isinstance(lists, pa.ChunkedArray):
        lists = lists.combine_chunks()
    if not (pa.types.is_list(lists.type) or pa.types.is_large_list(lists.type)) or not (
        pa.types.is_string(lists.type.value_type) or pa.types.is_large_string(lists.type.value_type)
    ):
        raise ValueError(f"{name}: 'tokens' must hold lists of strings, got {lists.type}")
    if lists.null_count:
        row = int(np.flatnonzero(np.asarray(lists.is_null()))[0])
        raise ValueError(f"{name}: 'tokens' is null at row {first_row + row}")
    if lists.flatten().null_count:
        lengths = np.asarray(lists.value_lengths())
        first = int(np.flatnonzero(np.asarray(lists.flatten().is_null()))[0])
        row = int(np.searchsorted(np.cumsum(lengths), first, side="right"))
        raise ValueError(f"{name}: 'tokens' row {first_row + row} holds a null token")
    return lists


def token_counts(lists: pa.ListArray) -> tuple[pa.Array, np.ndarray]:
    """Distinct tokens in order of first appearance, and how often each occurs."""
    encoded = pc.dictionary_encode(lists.flatten())
    counts = np.bincount(
        np.asarray(encoded.indices, dtype=np.int64), minlength=len(encoded.dictionary)
    )
    return encoded.dictionary, counts


def count_tokens(tokens: Batches | TokenTable, name: str) -> tuple[pa.Array, np.ndarray]:
    """:func:`token_counts` of a whole tokens table, read a batch at a time.

    Each batch is counted on its own and merged into the running counts; words new to a
    batch are appended in their order of first appearance there, so the order (and hence the
    vocabulary's tie-breaking) is that of counting the whole table at once.
    """
    words = pa.array([], pa.large_string())
    counts = np.zeros(0, dtype=np.int64)
    for part, row in _parts(tokens):
        batch_words, batch_counts = token_counts(token_lists(part, name, row))
        batch_words = batch_words.cast(pa.large_string())
        found = pc.index_in(batch_words, value_set=words)
        known = np.asarray(found.is_valid())
        counts[np.asarray(found.filter(pa.array(known)), dtype=np.int64)] += batch_counts[known]
        words = pa.concat_arrays([words, batch_words.filter(pa.array(~known))])
        counts = np.concatenate([counts, batch_counts[~known]])
    return words, counts


def _labels(tokens: TokenTable, name: str, first_row: int = 0) -> np.ndarray:
    """The 0/1 labels as int8; anything else names the row and review id."""
    ids, column = (_series(tokens, key, name) for key in ("id", "label"))
    labels = pd.to_numeric(column, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    bad = np.flatnonzero(~np.isin(labels, (0.0, 1.0)))
    if len(bad):
        row = int(bad[0])
        raise ValueError(
            f"{name}: label {column.iloc[row]} at row {first_row + row} "
            f"(id {ids.iloc[row]}) is not 0 or 1"
        )
    return labels.astype(np.int8)


def encode_reviews(
    tokens: TokenTable, vocabulary: Vocabulary, name: str, first_row: int = 0
) -> EncodedReviews:
    """A tokens table (``id``, ``label``, ``tokens``) as vocabulary ids; ``name`` in errors."""
    lists = token_lists(tokens, name, first_row)
    labels = _labels(tokens, name, first_row)
    ids, offsets = vocabulary.encode(lists)
    return EncodedReviews(
        ids=ids,
        offsets=offsets,
        labels=labels,
        review_ids=_series(tokens, "id", name).to_numpy(dtype=np.int64),
    )


def encode_review_batches(
    tokens: Batches | TokenTable, vocabulary: Vocabulary, name: str
) -> Parts[EncodedReviews]:
    """:func:`encode_reviews` of a tokens table, lazily, a batch at a time (parts of one whole).

    :class:`~imdb_sentiment.datasets.encoded_reviews.EncodedReviewsDataset` writes the parts
    as one file.
    """
    return Parts(
        lambda: (encode_reviews(part, vocabulary, name, row) for part, row in _parts(tokens))
    )


class VocabularyMismatchError(ValueError, ExpectedFailure):
    """A model trained with another vocabulary than the one it is given."""


def check_model_vocabulary(checkpoint: dict[str, Any], vocabulary: Vocabulary) -> None:
    """Refuse a checkpoint trained on another vocabulary (same size or not)."""
    trained_with = checkpoint.get(FINGERPRINT_KEY)
    if trained_with is not None and trained_with != vocabulary.fingerprint():
        raise VocabularyMismatchError(
            "the stored model was trained with another vocabulary than "
            "data/03_primary/vocabulary.json (the features were rebuilt since, e.g. with another "
            "--env or data source): retrain with `kedro run`, or rebuild the features the model "
            "was trained with"
        )
