"""kedro-datasets' file datasets (parquet, JSON, text, images), written whole or not at all.

kedro-datasets opens the target itself and writes into it, so a full disk, an error or a kill
mid-save leaves a truncated file where a good one was. These subclasses change only that: on
the local filesystem every file they save is written to a temporary file beside it and renamed
over the target when complete (:func:`imdb_sentiment.atomic.atomic_open`). Loading, versioning
(Kedro's ``<filepath>/<version>/<name>`` save paths), arguments and remote filesystems (whose
object stores publish an object whole already) are kedro-datasets' own.

In the catalog, also inside kedro-mlflow's ``MlflowArtifactDataset``::

    train_reviews:
      type: imdb_sentiment.datasets.atomic.ParquetDataset
      filepath: data/02_intermediate/train_reviews.parquet
"""

from __future__ import annotations

from typing import Any

from kedro_datasets.json import json_dataset
from kedro_datasets.matplotlib import matplotlib_dataset
from kedro_datasets.pandas import parquet_dataset
from kedro_datasets.text import text_dataset

from imdb_sentiment.atomic import atomic_open


class AtomicLocalFiles:
    """A local fsspec filesystem whose files opened for writing appear whole or not at all.

    Everything else (reading, listing, ``exists``, ``rm``) is the wrapped filesystem's.
    """

    def __init__(self, filesystem: Any) -> None:
        self._filesystem = filesystem

    def open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
        """``filesystem.open``, except that a write mode writes through a temporary file."""
        if "w" not in mode:
            return self._filesystem.open(path, mode=mode, **kwargs)
        return atomic_open(
            path, mode, encoding=kwargs.get("encoding"), newline=kwargs.get("newline")
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._filesystem, name)


class _AtomicSaves:
    """Mixin for a kedro-datasets class that writes through ``self._fs.open``."""

    _fs: Any
    _protocol: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._protocol == "file":
            self._fs = AtomicLocalFiles(self._fs)


class ParquetDataset(_AtomicSaves, parquet_dataset.ParquetDataset):
    """``pandas.ParquetDataset``, each local save whole or not at all."""


class JSONDataset(_AtomicSaves, json_dataset.JSONDataset):
    """``json.JSONDataset``, each local save whole or not at all."""


class MatplotlibDataset(_AtomicSaves, matplotlib_dataset.MatplotlibDataset):
    """``matplotlib.MatplotlibDataset``, each local image whole or not at all.

    (A list or dict of figures is a folder of images: each image is whole, the folder is
    replaced image by image.)
    """


class TextDataset(_AtomicSaves, text_dataset.TextDataset):
    """``text.TextDataset``, each local save whole or not at all."""
