"""A Kedro dataset for a fitted linear baseline: plain arrays in one .npz, never a pickle."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.atomic import atomic_write
from imdb_sentiment.linear_baselines import LinearBaseline


class LinearBaselineDataset(AbstractDataset[LinearBaseline, LinearBaseline]):
    """Saves a :class:`LinearBaseline` atomically as an uncompressed .npz of numeric arrays
    (terms as UTF-8 bytes, settings as JSON bytes); loads it with ``allow_pickle=False``, so
    loading a file runs no code from it."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> LinearBaseline:
        if not self._filepath.is_file():
            raise DatasetError(
                f"No fitted baseline at {self._filepath}: run `kedro run --pipeline=baselines` "
                "to fit it"
            )
        try:
            with np.load(self._filepath, allow_pickle=False) as arrays:
                return LinearBaseline.from_arrays(dict(arrays), str(self._filepath))
        except (ValueError, OSError, KeyError, zipfile.BadZipFile) as error:
            raise DatasetError(f"{self._filepath}: not a linear baseline file ({error})") from error

    def save(self, data: LinearBaseline) -> None:
        if not isinstance(data, LinearBaseline):
            raise DatasetError(
                f"{self._filepath}: can only save a LinearBaseline, got {type(data).__name__}"
            )
        with atomic_write(self._filepath) as handle:
            np.savez(handle, **data.to_arrays())

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
