"""Batches and ParquetBatchesDataset on real files: laziness, row selection, whole-or-nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from kedro.io import DatasetError

from imdb_sentiment.batches import Batches, ParquetBatches, as_batches
from imdb_sentiment.datasets.parquet_batches import ParquetBatchesDataset

SCHEMA = pa.schema([("id", pa.int64()), ("text", pa.string()), ("tokens", pa.list_(pa.string()))])


def _table(n: int, first_id: int = 0) -> pa.Table:
    ids = list(range(first_id, first_id + n))
    return pa.table(
        {
            "id": ids,
            "text": [f"review {i}" for i in ids],
            "tokens": [[f"w{i}"] * (i % 3) for i in ids],
        },
        schema=SCHEMA,
    )


def test_batches_are_lazy_and_start_again_on_every_iteration() -> None:
    made = []

    def make():
        made.append(1)
        yield from _table(5).to_batches(max_chunksize=2)

    batches = Batches(SCHEMA, make)
    assert made == []  # nothing read until iterated
    assert [len(b) for b in batches] == [2, 2, 1]
    assert batches.read().equals(_table(5))
    assert len(made) == 2


def test_take_rows_selects_positions_across_batches_in_order() -> None:
    batches = as_batches(_table(10), batch_rows=3)
    picked = batches.take_rows(np.array([0, 2, 3, 8, 9]))
    assert picked.num_rows == 5
    assert picked.column("id").to_pylist() == [0, 2, 3, 8, 9]
    assert picked.take_rows(np.array([], dtype=np.int64)).read().num_rows == 0
    with pytest.raises(ValueError, match="strictly increasing"):
        batches.take_rows(np.array([3, 1]))


def test_as_batches_takes_frames_and_tables() -> None:
    frame = pd.DataFrame({"id": [1, 2], "text": ["a", "b"]}, index=[7, 9])
    batches = as_batches(frame)
    assert batches.schema.names == ["id", "text"]  # no index column, no pandas metadata
    assert batches.schema.metadata is None
    assert batches.read().to_pydict() == {"id": [1, 2], "text": ["a", "b"]}
    assert as_batches(batches) is batches
    with pytest.raises(TypeError, match="got list"):
        as_batches([1, 2])


@pytest.mark.parametrize("batch_rows", [1, 4, 1000])
def test_dataset_round_trip_in_batches(tmp_path: Path, batch_rows: int) -> None:
    path = tmp_path / "tokens.parquet"
    dataset = ParquetBatchesDataset(filepath=str(path), batch_rows=batch_rows)
    assert not dataset.exists()
    dataset.save(as_batches(_table(9), batch_rows=4))
    loaded = dataset.load()
    assert isinstance(loaded, ParquetBatches)
    assert loaded.num_rows == 9 and loaded.schema == SCHEMA
    assert [len(b) for b in loaded] == [min(batch_rows, 9 - s) for s in range(0, 9, batch_rows)]
    assert loaded.read().equals(_table(9))
    assert loaded.column("id").to_pylist() == list(range(9))  # one column, read alone
    # plain pandas reads the file back (lists of strings become arrays of str)
    frame = pd.read_parquet(path)
    assert [list(tokens) for tokens in frame["tokens"]] == _table(9).column("tokens").to_pylist()
    assert [p.name for p in tmp_path.iterdir()] == ["tokens.parquet"]


def test_dataset_saves_frames_and_tables(tmp_path: Path) -> None:
    dataset = ParquetBatchesDataset(filepath=str(tmp_path / "t.parquet"))
    dataset.save(_table(3))
    assert dataset.load().read().equals(_table(3))
    dataset.save(pd.DataFrame({"id": [5], "text": ["x"]}))
    assert dataset.load().read().to_pydict() == {"id": [5], "text": ["x"]}
    with pytest.raises(DatasetError, match="expected Batches"):
        dataset.save({"id": [1]})


def test_a_failure_mid_stream_keeps_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "reviews.parquet"
    dataset = ParquetBatchesDataset(filepath=str(path))
    dataset.save(_table(4))
    before = path.read_bytes()

    def failing():
        yield from _table(6, first_id=100).to_batches(max_chunksize=2)
        raise RuntimeError("bad row 7")

    with pytest.raises(DatasetError, match="bad row 7"):
        dataset.save(Batches(SCHEMA, failing))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["reviews.parquet"]  # no temporary file

    def other_schema():
        yield from _table(2).to_batches()
        yield pa.record_batch({"id": [1]})

    with pytest.raises(DatasetError, match="a batch has schema"):
        dataset.save(Batches(SCHEMA, other_schema))
    assert path.read_bytes() == before


def test_missing_and_corrupt_files_are_named(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.parquet"
    with pytest.raises(DatasetError, match=f"No table at {missing}"):
        ParquetBatchesDataset(filepath=str(missing)).load()
    junk = tmp_path / "junk.parquet"
    junk.write_text("not parquet")
    with pytest.raises(DatasetError, match=f"{junk}: not a readable parquet file"):
        ParquetBatchesDataset(filepath=str(junk)).load()
    with pytest.raises(DatasetError, match="batch_rows must be >= 1"):
        ParquetBatchesDataset(filepath=str(junk), batch_rows=0)


def test_an_empty_table_round_trips(tmp_path: Path) -> None:
    dataset = ParquetBatchesDataset(filepath=str(tmp_path / "empty.parquet"))
    dataset.save(Batches(SCHEMA, lambda: iter(())))
    loaded = dataset.load()
    assert loaded.num_rows == 0 and loaded.schema == SCHEMA
    assert list(loaded) == []


def test_preview_reads_the_first_rows_only(tmp_path: Path) -> None:
    dataset = ParquetBatchesDataset(str(tmp_path / "reviews.parquet"), batch_rows=3)
    frame = pd.DataFrame({"id": range(10), "text": [f"review {i}" for i in range(10)]})
    dataset.save(frame)
    preview = dataset.preview(nrows=4)
    assert preview["columns"] == ["id", "text"]
    assert preview["data"] == [[i, f"review {i}"] for i in range(4)]
