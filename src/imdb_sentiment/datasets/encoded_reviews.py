"""A Kedro dataset for reviews as vocabulary ids (``sequences.EncodedReviews`` in one .npz)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.sequences import EncodedReviews


class EncodedReviewsDataset(AbstractDataset[EncodedReviews, EncodedReviews]):
    """Saves ``EncodedReviews`` to ``filepath`` atomically (whole or not at all); loads it back.

    ``compressed`` picks ``np.savez_compressed`` (default) or plain ``np.savez``.
    """

    def __init__(
        self,
        filepath: str,
        compressed: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._filepath = Path(filepath)
        self._compressed = bool(compressed)
        self.metadata = metadata

    def load(self) -> EncodedReviews:
        if not self._filepath.is_file():
            raise DatasetError(
                f"No encoded reviews at {self._filepath}: run `kedro run --pipeline=features` "
                f"to write them"
            )
        try:
            return EncodedReviews.load_npz(self._filepath)
        except (ValueError, OSError, zipfile.BadZipFile) as error:
            raise DatasetError(
                f"{self._filepath}: not an encoded-reviews file ({error})"
            ) from error

    def save(self, data: EncodedReviews) -> None:
        if not isinstance(data, EncodedReviews):
            raise DatasetError(
                f"{self._filepath}: can only save EncodedReviews, got {type(data).__name__}"
            )
        data.save_npz(self._filepath, compressed=self._compressed)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "compressed": self._compressed}
