"""Which vocabulary a model was trained with, so a model never scores ids of another one."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

FINGERPRINT_KEY = "vocabulary_sha256"


def vocabulary_fingerprint(vocabulary: dict[str, Any]) -> str:
    """SHA-256 of the words in index order: equal only for the same id-to-word mapping."""
    return hashlib.sha256("\n".join(vocabulary["itos"]).encode()).hexdigest()


def check_model_vocabulary(checkpoint: dict[str, Any], vocabulary: dict[str, Any]) -> None:
    """Refuse a checkpoint trained on another vocabulary (same size or not)."""
    trained_with = checkpoint.get(FINGERPRINT_KEY)
    if trained_with is not None and trained_with != vocabulary_fingerprint(vocabulary):
        raise ValueError(
            "the stored model was trained with another vocabulary than "
            "data/03_primary/vocabulary.json (the features were rebuilt since, e.g. with another "
            "--env or data source): retrain with `kedro run`, or rebuild the features the model "
            "was trained with"
        )


def encode_token_lists(
    lists: pa.ListArray, itos: list[str], unk_index: int
) -> tuple[np.ndarray, np.ndarray]:
    """Flat int32 ids and int64 offsets of token lists; words outside ``itos`` become ``unk``.

    Each distinct token is looked up once (dictionary encoding), not once per occurrence.
    """
    encoded = pc.dictionary_encode(lists.flatten())
    stoi = {word: index for index, word in enumerate(itos)}
    distinct_ids = np.fromiter(
        (stoi.get(word, unk_index) for word in encoded.dictionary.to_pylist()),
        dtype=np.int32,
        count=len(encoded.dictionary),
    )
    ids = distinct_ids[np.asarray(encoded.indices, dtype=np.int64)]
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(np.asarray(lists.value_lengths(), dtype=np.int64), out=offsets[1:])
    return ids, offsets
