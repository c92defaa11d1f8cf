"""A Kedro dataset for big tables: parquet written and read a batch of rows at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

from imdb_sentiment.atomic import atomic_write
from imdb_sentiment.batches import DEFAULT_BATCH_ROWS, Batches, ParquetBatches, as_batches


class ParquetBatchesDataset(AbstractDataset[Batches | pa.Table | pd.DataFrame, ParquetBatches]):
    """Loads lazily as :class:`~imdb_sentiment.batches.ParquetBatches` (``batch_rows`` at a time).

    ``save`` takes ``Batches`` (iterated once: each batch becomes a row group as it comes, so a
    node's lazy result is computed while it is written), a pyarrow ``Table`` or a pandas
    ``DataFrame``. The file is written whole or not at all: beside the target, then renamed,
    so a failure half-way (a bad row, Ctrl-C) leaves the previous file untouched. The file
    holds no pandas metadata: plain ``pd.read_parquet`` reads it back with default types.
    """

    def __init__(
        self,
        filepath: str,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        compression: str = "snappy",
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if int(batch_rows) < 1:
            raise DatasetError(f"{filepath}: batch_rows must be >= 1, got {batch_rows}")
        self._filepath = Path(filepath)
        self._batch_rows = int(batch_rows)
        self._compression = compression
        self.metadata = metadata

    def load(self) -> ParquetBatches:
        if not self._filepath.is_file():
            raise DatasetError(
                f"No table at {self._filepath}: run the pipeline that writes it first"
            )
        try:
            return ParquetBatches([self._filepath], self._batch_rows)
        except (OSError, ValueError, pa.ArrowException) as error:
            raise DatasetError(
                f"{self._filepath}: not a readable parquet file ({error})"
            ) from error

    def save(self, data: Batches | pa.Table | pd.DataFrame) -> None:
        try:
            batches = as_batches(data, self._batch_rows)
        except TypeError as error:
            raise DatasetError(f"{self._filepath}: {error}") from error
        schema = batches.schema.remove_metadata()
        with (
            atomic_write(self._filepath) as handle,
            pq.ParquetWriter(handle, schema, compression=self._compression) as writer,
        ):
            for batch in batches:
                if not batch.schema.remove_metadata().equals(schema):
                    raise DatasetError(
                        f"{self._filepath}: a batch has schema {batch.schema}, "
                        f"not the table's {schema}"
                    )
                writer.write_batch(batch.replace_schema_metadata(None))

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first ``nrows`` rows, for kedro-viz (``metadata: kedro-viz: preview_args``); only
        they are read."""
        first = next(pq.ParquetFile(self._filepath).iter_batches(batch_size=nrows), None)
        frame = first.to_pandas() if first is not None else pd.DataFrame()
        return TablePreview(frame.to_dict(orient="split"))

    def _exists(self) -> bool:
        return self._filepath.is_file()

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": str(self._filepath),
            "batch_rows": self._batch_rows,
            "compression": self._compression,
        }
