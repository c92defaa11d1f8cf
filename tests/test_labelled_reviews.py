"""Reading any labelled review set (the extra test set): formats and errors naming file and row."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kedro.io import DatasetError

from imdb_sentiment.datasets.labelled_reviews import LabelledReviewsDataset
from imdb_sentiment.labelled_reviews import LabelledReviewsError, read_labelled_reviews

FIXTURE = Path(__file__).parent / "fixtures" / "imdb_reviews.jsonl"  # 6 real IMDB test reviews


@pytest.fixture
def reviews() -> pd.DataFrame:
    return pd.read_json(FIXTURE, lines=True)


def test_every_format_reads_the_same_reviews(tmp_path: Path, reviews: pd.DataFrame) -> None:
    reviews.to_csv(tmp_path / "r.csv", index=False)
    reviews.to_parquet(tmp_path / "r.parquet")
    folder = tmp_path / "folder"
    for row in reviews.itertuples():
        target = folder / ("pos" if row.label else "neg") / f"{row.Index}_7.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(row.text, encoding="utf-8")
    expected = read_labelled_reviews(FIXTURE)
    assert expected["text"].tolist() == reviews["text"].tolist()
    assert expected["label"].tolist() == [0, 0, 0, 1, 1, 1]
    assert expected["id"].tolist() == list(range(6))
    for path in (tmp_path / "r.csv", tmp_path / "r.parquet", folder):
        read = read_labelled_reviews(path)
        assert sorted(zip(read["text"], read["label"], strict=True)) == sorted(
            zip(expected["text"], expected["label"], strict=True)
        ), path


def test_named_labels_and_given_ids(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    pd.DataFrame(
        {"id": [10, 20, 30], "text": ["Great.", "Awful.", "Fine."], "label": ["pos", "NEG", 1]}
    ).to_csv(path, index=False)
    read = read_labelled_reviews(path)
    assert read["label"].tolist() == [1, 0, 1] and read["id"].tolist() == [10, 20, 30]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"text": "Good.", "label": 1}\n{"text": "Bad." "label": 0}\n', r"line 2 is not JSON"),
        (
            '{"text": "Good.", "label": 1}\n{"text": "Bad.", "label": 3}\n',
            r"row 1 \(line 2\).*label 3",
        ),
        (
            '{"text": "Good.", "label": 1}\n{"text": "  ", "label": 0}\n',
            r"row 1 \(line 2\).*is blank",
        ),
        (
            '{"text": "Good.", "label": 1}\n{"text": null, "label": 0}\n',
            r"row 1 \(line 2\).*is missing",
        ),
        ('{"review": "Good.", "label": 1}\n', r"missing column\(s\) \['text'\]"),
        ("[1, 2]\n", r"line 1 is a JSON list"),
    ],
)
def test_bad_jsonl_names_the_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LabelledReviewsError, match=message) as error:
        read_labelled_reviews(path)
    assert str(path) in str(error.value)


def test_bad_csv_row_and_folder_file_are_named(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("text,label\nGood film.,1\nBad film.,maybe\n", encoding="utf-8")
    with pytest.raises(LabelledReviewsError, match=r"r.csv: row 1 \(line 3\): label 'maybe'"):
        read_labelled_reviews(path)
    folder = tmp_path / "folder"
    (folder / "pos").mkdir(parents=True)
    (folder / "neg").mkdir()
    (folder / "neg" / "1_2.txt").write_bytes(b"caf\xe9")  # latin-1, not UTF-8
    with pytest.raises(LabelledReviewsError, match=r"neg/1_2.txt: not UTF-8"):
        read_labelled_reviews(folder)
    (folder / "neg" / "1_2.txt").write_text("   ", encoding="utf-8")
    with pytest.raises(LabelledReviewsError, match=r"neg/1_2.txt: the review text is blank"):
        read_labelled_reviews(folder)
    with pytest.raises(LabelledReviewsError, match="needs pos/ and neg/"):
        read_labelled_reviews(folder / "pos")
    with pytest.raises(LabelledReviewsError, match="unknown format .txt"):
        read_labelled_reviews(folder / "neg" / "1_2.txt")
    with pytest.raises(LabelledReviewsError, match="no such file"):
        read_labelled_reviews(tmp_path / "missing.csv")


def test_the_dataset_is_empty_without_a_source_and_names_a_bad_one(tmp_path: Path) -> None:
    for source in (None, "", "none"):
        empty = LabelledReviewsDataset(source=source).load()
        assert list(empty.columns) == ["id", "text", "label"] and empty.empty
    assert len(LabelledReviewsDataset(source=str(FIXTURE)).load()) == 6
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "label": "?"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"extra test set: .*bad.jsonl: row 0 \(line 1\)"):
        LabelledReviewsDataset(source=str(bad)).load()
