"""A Kedro dataset for reviews as vocabulary ids (``sequences.EncodedReviews`` in one .npz)."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.sequences import EncodedReviews, save_npz_parts


def _checked(parts: Iterable[Any], filepath: Path) -> Iterator[EncodedReviews]:
    """The parts, each checked to be ``EncodedReviews`` as it comes."""
    for part in parts:
        if not isinstance(part, EncodedReviews):
            raise DatasetError(
                f"{filepath}: can only save EncodedReviews or parts of them, got a part of "
                f"type {type(part).__name__}"
            )
        yield part


class EncodedReviewsDataset(
    AbstractDataset[EncodedReviews | Iterable[EncodedReviews], EncodedReviews]
):
    """Saves ``EncodedReviews`` to ``filepath`` atomically (whole or not at all); loads it back.

    ``save`` also takes an iterable of consecutive parts (a split encoded a batch at a time)
    and writes them as one whole, holding one part at a time. ``compressed`` picks
    ``np.savez_compressed``'s format (default) or plain ``np.savez``'s.
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

    def save(self, data: EncodedReviews | Iterable[EncodedReviews]) -> None:
        parts = [data] if isinstance(data, EncodedReviews) else data
        if not isinstance(parts, Iterable):
            raise DatasetError(
                f"{self._filepath}: can only save EncodedReviews or parts of them, got "
                f"{type(data).__name__}"
            )
        save_npz_parts(_checked(parts, self._filepath), self._filepath, self._compressed)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "compressed": self._compressed}
