"""Tables read and written a batch of rows at a time, so memory does not grow with the corpus.

A :class:`Batches` is a lazy, re-iterable sequence of Arrow record batches with a known schema:
nothing is read until it is iterated, and every ``iter()`` starts again from the beginning (a
file is opened anew). Nodes take one as input and return one (or a transformed view of one);
the dataset that saves the result iterates it, writing each batch as it comes
(:class:`~imdb_sentiment.datasets.parquet_batches.ParquetBatchesDataset`), so a split of any
size passes through a node holding a batch of it at a time. Small tables (tests, the bundled
sample, an in-memory source) become ``Batches`` with :func:`as_batches`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

T = TypeVar("T")
DEFAULT_BATCH_ROWS = 20_000  # reviews per batch: tens of MB of text, a few hundred of tokens


class Parts(Generic[T]):
    """A lazy, re-iterable sequence: ``make()`` produces it afresh on every iteration.

    What a node returns for a dataset to write part by part (e.g. encoded reviews, a batch of
    reviews at a time); Kedro hands such an object to the dataset's ``save`` unchanged.
    """

    def __init__(self, make: Callable[[], Iterable[T]]) -> None:
        self._make = make

    def __iter__(self) -> Iterator[T]:
        return iter(self._make())


class Batches(Parts[pa.RecordBatch]):
    """Record batches of one ``schema``, produced afresh by ``make()`` on every iteration.

    ``num_rows`` is the row count when known without reading (None otherwise). Empty batches
    are skipped.
    """

    def __init__(
        self,
        schema: pa.Schema,
        make: Callable[[], Iterable[pa.RecordBatch]],
        num_rows: int | None = None,
    ) -> None:
        super().__init__(make)
        self.schema = schema
        self.num_rows = num_rows

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return (batch for batch in self._make() if batch.num_rows)

    def __repr__(self) -> str:
        rows = "?" if self.num_rows is None else f"{self.num_rows:,}"
        return f"{type(self).__name__}({rows} rows: {', '.join(self.schema.names)})"

    @classmethod
    def from_table(cls, table: pa.Table, batch_rows: int = DEFAULT_BATCH_ROWS) -> Batches:
        """The rows of an in-memory table, ``batch_rows`` at a time."""
        return cls(
            table.schema,
            lambda: table.to_batches(max_chunksize=batch_rows),
            num_rows=table.num_rows,
        )

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        """Every row (of ``columns`` only, if given) as one table: for small data or one column."""
        schema = (
            self.schema if columns is None else pa.schema([self.schema.field(c) for c in columns])
        )
        batches = (batch.select(schema.names) for batch in self)
        return pa.Table.from_batches(list(batches), schema=schema)

    def column(self, name: str) -> pa.ChunkedArray:
        """One column, whole (ids and labels are small beside the texts)."""
        return self.read([name]).column(name)

    def to_pandas(self) -> pd.DataFrame:
        """Every row as a pandas frame (small data: tests, previews)."""
        return self.read().to_pandas()

    def map(self, func: Callable[[pa.RecordBatch], pa.RecordBatch], schema: pa.Schema) -> Batches:
        """Lazily ``func`` applied to every batch: the same rows, as ``schema``."""
        return Batches(schema, lambda: (func(batch) for batch in self), num_rows=self.num_rows)

    def take_rows(self, rows: np.ndarray) -> Batches:
        """The rows at the increasing positions ``rows``, in order, lazily (one pass)."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) > 1 and np.any(np.diff(rows) <= 0):
            raise ValueError("take_rows: row positions must be strictly increasing")

        def make() -> Iterator[pa.RecordBatch]:
            start = 0
            for batch in self:
                stop = start + batch.num_rows
                low, high = np.searchsorted(rows, [start, stop])
                if high > low:
                    yield batch.take(pa.array(rows[low:high] - start))
                start = stop

        return Batches(self.schema, make, num_rows=len(rows))


class ParquetBatches(Batches):
    """The rows of parquet files, read ``batch_rows`` at a time in file order.

    ``column`` reads only that column from the files.
    """

    def __init__(
        self, paths: Sequence[str | os.PathLike], batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> None:
        self.paths = [Path(path) for path in paths]
        if not self.paths:
            raise ValueError("ParquetBatches needs at least one file")
        files = [pq.ParquetFile(path) for path in self.paths]
        schema = files[0].schema_arrow
        for path, parquet in zip(self.paths[1:], files[1:], strict=True):
            if not parquet.schema_arrow.equals(schema):
                raise ValueError(
                    f"{path}: schema {parquet.schema_arrow} differs from {self.paths[0]}'s {schema}"
                )
        self.batch_rows = batch_rows
        super().__init__(
            schema, self._batches, num_rows=sum(parquet.metadata.num_rows for parquet in files)
        )

    def _batches(self) -> Iterator[pa.RecordBatch]:
        for path in self.paths:
            with pq.ParquetFile(path) as parquet:
                yield from parquet.iter_batches(batch_size=self.batch_rows)

    def read(self, columns: Sequence[str] | None = None) -> pa.Table:
        tables = [pq.read_table(path, columns=columns) for path in self.paths]
        return pa.concat_tables(tables)


def as_batches(data: Batches | pa.Table | pd.DataFrame, batch_rows: int = DEFAULT_BATCH_ROWS):
    """``data`` as :class:`Batches`: a frame or table is cut into batches of ``batch_rows``.

    A pandas frame keeps its columns' types as Arrow infers them (object columns of ``str``
    become strings), without pandas metadata or index.
    """
    if isinstance(data, Batches):
        return data
    if isinstance(data, pd.DataFrame):
        data = pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    if not isinstance(data, pa.Table):
        raise TypeError(
            f"expected Batches, a pyarrow Table or a pandas DataFrame, got {type(data).__name__}"
        )
    return Batches.from_table(data.replace_schema_metadata(None), batch_rows)


def whole_frame(data: Batches | pa.Table | pd.DataFrame) -> pd.DataFrame:
    """``data`` whole, as a pandas frame of Arrow-backed columns; a frame is returned as is.

    For nodes that need a table whole (the linear baselines fit on all of train): token lists
    stay Arrow lists, with no Python object per review or token.
    """
    if isinstance(data, pd.DataFrame):
        return data
    return as_batches(data).read().to_pandas(types_mapper=pd.ArrowDtype)
