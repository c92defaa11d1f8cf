"""The predict pipeline's datasets: sources read as written, tables written whole."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from imdb_sentiment.datasets.reviews_to_score import ReviewsToScoreDataset
from imdb_sentiment.datasets.tables import AtomicTableDataset


def load(source) -> pd.DataFrame:
    return ReviewsToScoreDataset(source=None if source is None else str(source)).load()


def test_csv_columns_are_text_and_empty_fields_stay_empty(tmp_path: Path) -> None:
    path = tmp_path / "new.csv"
    path.write_text('id,text\n7,"Good, really."\n8,\n9,NA\n')
    frame = load(path)
    assert frame.to_dict("list") == {"id": ["7", "8", "9"], "text": ["Good, really.", "", "NA"]}
    assert frame.attrs["source"] == str(path)


def test_parquet_keeps_its_types_and_nulls(tmp_path: Path) -> None:
    path = tmp_path / "new.parquet"
    pd.DataFrame({"id": [1, 2], "text": ["fine", None]}).to_parquet(path)
    values = load(path)["text"].tolist()
    assert values[0] == "fine"
    assert pd.isna(values[1])


def test_jsonl_values_stay_as_written_and_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    lines = [{"id": 1, "text": "fine"}, {"id": 2, "text": None}, {"text": 5}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    frame = load(path)
    assert frame["text"].tolist()[0] == "fine"
    assert frame["text"].tolist()[2] == 5
    assert pd.isna(frame["text"].tolist()[1])
    assert frame["id"].tolist()[:2] == [1, 2]  # not 1.0, 2.0 for the one missing id
    path.write_text('{"text": "ok"}\n{"text": oops}\n')
    with pytest.raises(DatasetError, match="line 2 is not JSON"):
        load(path)
    path.write_text('{"text": "ok"}\n["a list"]\n')
    with pytest.raises(DatasetError, match="line 2 is a JSON list, not an object"):
        load(path)


def test_a_folder_of_text_files_is_read_in_path_order(tmp_path: Path) -> None:
    (tmp_path / "pos").mkdir()
    (tmp_path / "pos" / "1_9.txt").write_text("Loved it")
    (tmp_path / "b.txt").write_text("Meh")
    (tmp_path / "a.txt").write_bytes(b"\xff\xfe not utf-8")
    (tmp_path / "notes.md").write_text("ignored")
    frame = load(tmp_path)
    assert frame["id"].tolist() == ["a", "b", "pos/1_9"]
    assert frame["text"].tolist()[1:] == ["Meh", "Loved it"]
    assert isinstance(frame["text"].tolist()[0], bytes)  # reported as not text, not decoded


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "predict_source is not set: `kedro run --pipelines=predict --params"),
        ("/no/such/file.csv", "predict_source /no/such/file.csv does not exist"),
    ],
)
def test_a_missing_source_says_what_to_pass(source, message) -> None:
    with pytest.raises(DatasetError, match=message):
        load(source)


def test_unknown_formats_and_empty_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "reviews.xlsx").write_text("x")
    with pytest.raises(DatasetError, match=r"unknown format '.xlsx'; use .csv, .parquet"):
        load(tmp_path / "reviews.xlsx")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="holds no .txt file"):
        load(tmp_path / "empty")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DatasetError, match="not a readable parquet file"):
        load(tmp_path / "bad.parquet")


def test_a_table_is_written_as_parquet_and_csv_and_previewed(tmp_path: Path) -> None:
    dataset = AtomicTableDataset(parquet=str(tmp_path / "p.parquet"), csv=str(tmp_path / "p.csv"))
    frame = pd.DataFrame({"id": [1, 2, 3], "text": ["a", "b", "c"], "probability": [0.1, 0.5, 1]})
    dataset.save(frame)
    pd.testing.assert_frame_equal(dataset.load(), frame)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "p.csv"), frame)
    preview = dataset.preview(nrows=2)
    assert preview["columns"] == ["id", "text", "probability"]
    assert preview["data"] == [[1, "a", 0.1], [2, "b", 0.5]]


def test_a_failed_save_leaves_the_previous_table(tmp_path: Path) -> None:
    dataset = AtomicTableDataset(parquet=str(tmp_path / "p.parquet"))
    dataset.save(pd.DataFrame({"x": [1]}))
    with pytest.raises(Exception):  # noqa: B017, PT011 - pyarrow's own error
        dataset.save(pd.DataFrame({"x": [1, "mixed", object()]}))
    assert dataset.load()["x"].tolist() == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["p.parquet"]  # no temporary file left
