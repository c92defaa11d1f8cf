"""Which vocabulary a model was trained with, so a model never scores ids of another one."""

from __future__ import annotations

import hashlib
from typing import Any

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
