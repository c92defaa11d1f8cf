"""A table written as parquet and/or csv, each file whole or not at all."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError
from kedro_datasets._typing import TablePreview

from imdb_sentiment.atomic import atomic_write


class AtomicTableDataset(AbstractDataset[pd.DataFrame, pd.DataFrame]):
    """Saves a DataFrame to ``parquet`` and/or ``csv`` (paths; at least one), each through a
    temporary file and a rename, so an interrupted save leaves the previous file; loads the
    parquet file if there is one, else the csv."""

    def __init__(
        self,
        parquet: str | None = None,
        csv: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if parquet is None and csv is None:
            raise DatasetError("AtomicTableDataset needs a parquet or a csv path (or both)")
        self._parquet = Path(parquet) if parquet else None
        self._csv = Path(csv) if csv else None
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        path = self._parquet or self._csv
        if not path.is_file():
            raise DatasetError(f"No table at {path}: run the pipeline that writes it")
        if path == self._parquet:
            return pd.read_parquet(path)
        return pd.read_csv(path)

    def save(self, data: pd.DataFrame) -> None:
        if self._parquet is not None:
            with atomic_write(self._parquet) as handle:
                data.to_parquet(handle, index=False)
        if self._csv is not None:
            with atomic_write(self._csv) as handle:
                data.to_csv(handle, index=False)

    def preview(self, nrows: int = 5) -> TablePreview:
        """The first ``nrows`` rows, for kedro-viz (``metadata: kedro-viz: preview_args``)."""
        return TablePreview(self.load().head(nrows).to_dict(orient="split"))

    def _exists(self) -> bool:
        path = self._parquet or self._csv
        return path.is_file()

    def _describe(self) -> dict[str, Any]:
        return {"parquet": str(self._parquet), "csv": str(self._csv)}
