"""A versioned Kedro dataset for torch checkpoints (plain dicts of tensors and settings), or the
checkpoint inside a registered served model (``model_uri``)."""

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

MODEL_URI_EXAMPLE = "models:/imdb-sentiment@champion"


class TorchCheckpointDataset(AbstractVersionedDataset[dict, dict]):
    """Saves a checkpoint dict with ``torch.save``, atomically; loads it onto the CPU.

    ``missing_hint`` is the command that produces the checkpoint, quoted in the error raised
    when none has been saved yet. With ``model_uri`` (``models:/imdb-sentiment@champion``, any
    ``models:/`` or ``runs:/`` URI) ``load`` returns the checkpoint of that served model instead
    of a local one, and ``save`` refuses.
    """

    def __init__(  # noqa: PLR0913
        self,
        filepath: str,
        version: Version | None = None,
        missing_hint: str = "kedro run",
        model_uri: str | None = None,
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
        self._model_uri = model_uri
        self.metadata = metadata

    def load(self) -> dict:
        if self._model_uri:
            from imdb_sentiment.registry import load_served_model  # noqa: PLC0415 - MLflow

            return load_served_model(self._model_uri).checkpoint
        try:
            path = Path(self._get_load_path())
        except VersionNotFoundError as error:
            raise DatasetError(
                f"No trained model at {self._filepath}: run `{self._missing_hint}` to train one"
                f" (or use a registered one: --params model_uri={MODEL_URI_EXAMPLE})."
            ) from error
        if not path.exists():
            raise DatasetError(
                f"No trained model at {path}: run `{self._missing_hint}` to train one"
                f" (or use a registered one: --params model_uri={MODEL_URI_EXAMPLE})."
            )
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise DatasetError(f"{path}: not a readable torch checkpoint ({error})") from error

    def save(self, data: dict) -> None:
        if self._model_uri:
            raise DatasetError(
                f"model_uri is set ({self._model_uri}): a run that trains writes a new local "
                "checkpoint; drop --params model_uri, or run only evaluate or predict"
            )
        with atomic_write(self._get_save_path()) as handle:
            torch.save(data, handle)

    def _exists(self) -> bool:
        if self._model_uri:
            return True
        try:
            path = self._get_load_path()
        except DatasetError:
            return False
        return Path(path).exists()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "version": self._version,
            "model_uri": self._model_uri,
        }
