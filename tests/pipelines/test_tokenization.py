"""Tokenization nodes and pipeline with real spaCy; the parquet hand-off; the config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError, MemoryDataset
from kedro.runner import SequentialRunner

from imdb_sentiment.batches import as_batches
from imdb_sentiment.datasets.parquet_batches import ParquetBatchesDataset
from imdb_sentiment.pipelines.tokenization import create_pipeline
from imdb_sentiment.pipelines.tokenization.nodes import tokenize_reviews
from imdb_sentiment.text import TOKENS_SCHEMA

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAMS = {"spacy_model": "blank:en", "lowercase": True, "n_workers": 1, "chunk_size": 2}


def _reviews(texts: list[str], first_id: int = 100) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": np.arange(first_id, first_id + len(texts), dtype="int64"),
            "text": texts,
            "label": np.arange(len(texts), dtype="int64") % 2,
        }
    )


def _as_lists(frame: pd.DataFrame) -> list[list[str]]:
    return [list(tokens) for tokens in frame["tokens"]]


def _tokenized(reviews, params: dict, split: str = "train") -> pd.DataFrame:
    """The node's lazy result, computed and read whole."""
    tokens = tokenize_reviews(reviews, params, split)
    assert tokens.schema == TOKENS_SCHEMA
    return tokens.to_pandas()


def test_node_keeps_ids_labels_and_order() -> None:
    reviews = _reviews(["Great film!<br />Loved it.", "Awful.", "", "Meh, it's OK"])
    tokens = _tokenized(reviews, PARAMS)
    assert list(tokens.columns) == ["id", "label", "tokens"]
    assert tokens["id"].tolist() == [100, 101, 102, 103]
    assert tokens["label"].tolist() == [0, 1, 0, 1]
    assert _as_lists(tokens) == [
        ["great", "film", "!", "loved", "it", "."],
        ["awful", "."],
        [],
        ["meh", ",", "it", "'s", "ok"],
    ]


def test_two_workers_give_the_same_table() -> None:
    reviews = _reviews([f"Review {i}: it's <br />{'very ' * i}good!" for i in range(40)])
    serial = _tokenized(reviews, PARAMS)
    parallel = _tokenized(reviews, {**PARAMS, "n_workers": 2, "chunk_size": 3})
    assert _as_lists(parallel) == _as_lists(serial)
    assert parallel["id"].tolist() == serial["id"].tolist()


def test_batches_and_a_small_piece_cache_give_the_same_table() -> None:
    reviews = _reviews(
        [f"Review {i}: it's <br />{'very ' * (i % 9)}good{i % 5}!" for i in range(60)]
    )
    whole = _tokenized(reviews, PARAMS)
    batched = _tokenized(
        as_batches(reviews, batch_rows=7), {**PARAMS, "n_workers": 2, "max_cached_pieces": 4}
    )
    assert _as_lists(batched) == _as_lists(whole)
    assert batched["id"].tolist() == whole["id"].tolist()
    assert batched["label"].tolist() == whole["label"].tolist()


def test_missing_column_and_bad_text_name_the_split() -> None:
    with pytest.raises(ValueError, match=r"valid_reviews: missing column\(s\) \['text'\]"):
        tokenize_reviews(pd.DataFrame({"id": [1], "label": [0]}), PARAMS, "valid")
    reviews = _reviews(["fine", "also fine", "and this"])
    reviews["text"] = pd.Series(["fine", "ok", None], dtype=object)
    with pytest.raises(TypeError, match=r"test_reviews: .* row 2 \(id 102\)"):
        _tokenized(as_batches(reviews, batch_rows=2), PARAMS, "test")  # in the second batch


def test_tokens_survive_the_parquet_dataset(tmp_path: Path) -> None:
    reviews = _reviews(["A fine film.", "Bad!", "Worse, even."])
    dataset = ParquetBatchesDataset(filepath=str(tmp_path / "train_tokens.parquet"), batch_rows=2)
    dataset.save(tokenize_reviews(as_batches(reviews, batch_rows=2), PARAMS, "train"))
    tokens = _tokenized(reviews, PARAMS)
    loaded = dataset.load()
    assert [len(batch) for batch in loaded] == [2, 1]
    assert _as_lists(loaded.to_pandas()) == _as_lists(tokens)
    assert loaded.column("id").to_pylist() == tokens["id"].tolist()
    # Plain pandas reads it back too (no Arrow-only pandas metadata in the file).
    assert _as_lists(pd.read_parquet(tmp_path / "train_tokens.parquet")) == _as_lists(tokens)


def test_a_failing_split_leaves_the_previous_tokens_file(tmp_path: Path) -> None:
    path = tmp_path / "test_tokens.parquet"
    dataset = ParquetBatchesDataset(filepath=str(path), batch_rows=1)
    dataset.save(tokenize_reviews(_reviews(["Good."]), PARAMS, "test"))
    before = path.read_bytes()
    reviews = _reviews(["fine", "also fine", "x"])
    reviews["text"] = pd.Series(["fine", "also fine", None], dtype=object)
    with pytest.raises(DatasetError, match=r"test_reviews: column 'text' row 2"):
        dataset.save(tokenize_reviews(as_batches(reviews, batch_rows=1), PARAMS, "test"))
    assert path.read_bytes() == before  # two batches were written, then the file was dropped
    assert [p.name for p in tmp_path.iterdir()] == ["test_tokens.parquet"]


def test_pipeline_runs_every_split_with_sequential_runner() -> None:
    splits = {
        "train": _reviews(["Good movie.", "Bad movie!"]),
        "valid": _reviews(["Fine."], first_id=7),
        "test": _reviews(["Great<br />stuff", "Terrible", "So-so"], first_id=50),
    }
    outputs = [f"{split}_tokens" for split in splits]
    catalog = DataCatalog(
        datasets={
            **{f"{split}_reviews": MemoryDataset(frame) for split, frame in splits.items()},
            "params:tokenization": MemoryDataset(PARAMS),
            **{name: MemoryDataset() for name in outputs},
        }
    )
    pipeline = create_pipeline()
    assert {node.name for node in pipeline.nodes} == {
        "tokenize_train_reviews",
        "tokenize_valid_reviews",
        "tokenize_test_reviews",
    }
    SequentialRunner().run(pipeline, catalog)
    results = {name: catalog.load(name).to_pandas() for name in outputs}
    assert _as_lists(results["test_tokens"]) == [
        ["great", "stuff"],
        ["terrible"],
        ["so", "-", "so"],
    ]
    assert results["valid_tokens"]["id"].tolist() == [7]
    assert _as_lists(results["train_tokens"])[1] == ["bad", "movie", "!"]


def test_catalog_gives_every_split_its_tokens_file(project_catalog) -> None:
    for split in ("train", "valid", "test"):
        dataset = project_catalog.get(f"{split}_tokens")
        assert isinstance(dataset, ParquetBatchesDataset)
        assert str(dataset._filepath).endswith(f"data/02_intermediate/{split}_tokens.parquet")
        assert dataset._batch_rows == 20_000
        assert dataset.metadata["kedro-viz"]["layer"] == "intermediate"
