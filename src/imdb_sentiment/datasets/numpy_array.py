"""A Kedro dataset for one numpy array in a ``.npy`` file, written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.atomic import atomic_write


class NumpyArrayDataset(AbstractDataset[np.ndarray, np.ndarray]):
    """Saves an array with ``np.save`` to a temporary file, then renames it over ``filepath``."""

    def __init__(self, filepath: str, metadata: dict[str, Any] | None = None) -> None:
        self._filepath = Path(filepath)
        self.metadata = metadata

    def load(self) -> np.ndarray:
        if not self._filepath.is_file():
            raise DatasetError(f"No array at {self._filepath}: run the pipeline that writes it")
        try:
            return np.load(self._filepath, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DatasetError(f"{self._filepath}: not a numpy .npy file ({error})") from error

    def save(self, data: np.ndarray) -> None:
        if not isinstance(data, np.ndarray):
            raise DatasetError(
                f"{self._filepath}: can only save a numpy array, got {type(data).__name__}"
            )
        with atomic_write(self._filepath) as handle:
            np.save(handle, data, allow_pickle=False)

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath)}
