"""A Kedro dataset for the vocabulary: :class:`~imdb_sentiment.vocabulary.Vocabulary` as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import JSONPreview

from imdb_sentiment.atomic import atomic_write
from imdb_sentiment.vocabulary import Vocabulary


class VocabularyDataset(AbstractDataset[Vocabulary, Vocabulary]):
    """Saves a ``Vocabulary`` as indented JSON, whole or not at all; loads it back checked."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> Vocabulary:
        if not self._filepath.is_file():
            raise DatasetError(
                f"No vocabulary at {self._filepath}: run `kedro run --pipeline=features` to "
                "build it"
            )
        try:
            data = json.loads(self._filepath.read_text(encoding="utf-8"))
            return Vocabulary.from_dict(data, where=str(self._filepath))
        except (ValueError, OSError) as error:  # JSONDecodeError is a ValueError
            raise DatasetError(f"{self._filepath}: not a vocabulary file ({error})") from error

    def save(self, data: Vocabulary) -> None:
        if not isinstance(data, Vocabulary):
            raise DatasetError(
                f"{self._filepath}: can only save a Vocabulary, got {type(data).__name__}"
            )
        with atomic_write(self._filepath) as handle:
            handle.write(json.dumps(data.to_dict(), indent=2).encode("utf-8"))

    def preview(self, words: int = 30) -> JSONPreview:
        """For kedro-viz: the first ``words`` entries and how the vocabulary was built."""
        data = self.load().to_dict()
        data["itos"] = data["itos"][:words]
        return JSONPreview(json.dumps(data))

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
