"""A versioned Kedro dataset for torch checkpoints (plain dicts of tensors and settings)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import fsspec
import torch
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    VersionNotFoundError,
)

from imdb_sentiment.atomic import atomic_write


class TorchCheckpointDataset(AbstractVersionedDataset[dict, dict]):
    """Saves a checkpoint dict with ``torch.save``, atomically; loads it onto the CPU.

    ``missing_hint`` is the command that produces the checkpoint, quoted in the error raised
    when none has been saved yet.
    """

    def __init__(
        self,
        filepath: str,
        version: Version | None = None,
        missing_hint: str = "kedro run",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        filesystem = fsspec.filesystem("file")
        super().__init__(
            filepath=PurePosixPath(filepath),
            version=version,
            exists_function=filesystem.exists,
            glob_function=filesystem.glob,
        )
        self._missing_hint = missing_hint
        self.metadata = metadata

    def load(self) -> dict:
        try:
            path = Path(self._get_load_path())
        except VersionNotFoundError as error:
            raise DatasetError(
                f"No trained model at {self._filepath}: run `{self._missing_hint}` to train one."
            ) from error
        if not path.exists():
            raise DatasetError(
                f"No trained model at {path}: run `{self._missing_hint}` to train one."
            )
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise DatasetError(f"{path}: not a readable torch checkpoint ({error})") from error

    def save(self, data: dict) -> None:
        with atomic_write(self._get_save_path()) as handle:
            torch.save(data, handle)

    def _exists(self) -> bool:
        try:
            path = self._get_load_path()
        except DatasetError:
            return False
        return Path(path).exists()

    def _describe(self) -> dict[str, Any]:
        return {"filepath": str(self._filepath), "version": self._version}
