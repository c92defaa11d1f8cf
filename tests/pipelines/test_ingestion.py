"""Ingestion nodes on small tables, the pipeline through SequentialRunner, and its config."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from imdb_sentiment.batches import Batches, as_batches
from imdb_sentiment.pipelines.ingestion import create_pipeline
from imdb_sentiment.pipelines.ingestion.nodes import (
    check_reviews,
    split_report,
    split_train_valid,
    validate_reviews,
)
from imdb_sentiment.reviews import REVIEW_SCHEMA, review_facts
from tests.conftest import project_config


def reviews(n_neg: int, n_pos: int, prefix: str = "review") -> pd.DataFrame:
    """``n_neg`` + ``n_pos`` distinct reviews, ids 0.. in that order."""
    n = n_neg + n_pos
    return pd.DataFrame(
        {
            "id": np.arange(n, dtype="int64"),
            "text": pd.Series([f"{prefix} number {i}" for i in range(n)], dtype=object),
            "label": np.array([0] * n_neg + [1] * n_pos, dtype="int64"),
        }
    )


def frame(batches: Batches) -> pd.DataFrame:
    """A node's lazy output read whole, texts as Python objects (as ``reviews`` builds them)."""
    assert batches.schema == REVIEW_SCHEMA
    return batches.to_pandas().astype({"text": object})


def checked(table: pd.DataFrame, name: str, batch_rows: int = 2) -> pd.DataFrame:
    """``check_reviews`` of a table's facts, the table read ``batch_rows`` rows at a time."""
    return check_reviews(review_facts(as_batches(table, batch_rows), name), name)


# --- checks ------------------------------------------------------------------------------------


def test_clean_table_passes_unchanged() -> None:
    table = reviews(3, 2)
    kept = checked(table, "train")
    assert kept["row"].tolist() == kept["id"].tolist() == [0, 1, 2, 3, 4]
    assert kept["label"].tolist() == table["label"].tolist()
    pd.testing.assert_frame_equal(
        frame(validate_reviews({"train": table, "test": table}, False)[0]), table
    )


def test_facts_keep_keys_of_texts_not_texts() -> None:
    table = reviews(2, 2)
    table.loc[3, "text"] = table.loc[0, "text"]
    facts = review_facts(as_batches(table, batch_rows=3), "train")
    assert list(facts.columns) == ["row", "id", "label", "usable", "text_key"]
    keys = facts["text_key"].tolist()
    assert all(isinstance(key, str) and len(key) == 32 for key in keys)
    assert keys[3] == keys[0] and len(set(keys)) == 3


def test_a_text_whose_digest_ends_in_a_zero_byte_is_still_found_in_test() -> None:
    """1 in 256 digests end in a zero byte, which numpy's fixed-width bytes drop (the full
    IMDB has one such review shared by train and test)."""
    text = next(
        text
        for text in (f"a review, take {i}" for i in range(100_000))
        if hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest().endswith(b"\0")
    )
    train = reviews(3, 3, prefix="train")
    test = reviews(2, 2, prefix="test")
    train.loc[4, "text"] = test.loc[1, "text"] = text
    train.loc[5, "text"] = text
    _, _, cleaning = validate_reviews({"train": train, "test": test}, True)
    assert (cleaning["train_in_test"], cleaning["train_repeated"]) == (2, 0)


def test_unusable_text_is_dropped_with_count(caplog: pytest.LogCaptureFixture) -> None:
    table = reviews(3, 3).astype({"text": object})
    table.loc[1, "text"] = ""
    table.loc[2, "text"] = "   \n"
    table.loc[4, "text"] = None
    with caplog.at_level(logging.WARNING):
        cleaned = checked(table, "test")
    assert cleaned["id"].tolist() == [0, 3, 5]
    assert "IMDB test table: dropped 3 row(s)" in caplog.text and "ids 1, 2, 4" in caplog.text


def test_label_outside_0_1_names_table_and_row() -> None:
    table = reviews(2, 2)
    table.loc[3, "label"] = 2
    with pytest.raises(ValueError, match=r"IMDB valid table: 1 label\(s\).*id 3: 2"):
        checked(table, "valid")


def test_missing_column_and_repeated_id() -> None:
    with pytest.raises(ValueError, match=r"train table lacks column\(s\) \['label'\]"):
        checked(reviews(2, 2).drop(columns="label"), "train")
    table = reviews(2, 2)
    table.loc[3, "id"] = 0
    with pytest.raises(ValueError, match=r"column 'id' repeats 1 time\(s\), e.g. id 0"):
        checked(table, "train")


def test_missing_split() -> None:
    with pytest.raises(ValueError, match="imdb_raw has no 'test' table"):
        validate_reviews({"train": reviews(2, 2)}, clean_splits=False)


def test_overlap_reported_and_optionally_dropped(caplog: pytest.LogCaptureFixture) -> None:
    train = reviews(4, 4, prefix="train")
    test = reviews(2, 2, prefix="test")
    test.loc[0, "text"] = train.loc[1, "text"]
    test.loc[3, "text"] = train.loc[6, "text"]
    with caplog.at_level(logging.WARNING):
        kept, test_out, cleaning = validate_reviews({"train": train, "test": test}, False)
    assert "2 train review(s) also appear verbatim in test" in caplog.text
    assert "keeping them" in caplog.text
    # splits left sharing texts are warned about
    assert all(r.levelno == logging.WARNING for r in caplog.records if "verbatim" in r.message)
    assert len(frame(kept)) == 8
    assert cleaning["train_in_test"] == 2 and cleaning["train_dropped"] == 0
    pd.testing.assert_frame_equal(frame(test_out), test)
    dropped, _, cleaning = validate_reviews(
        {"train": as_batches(train, batch_rows=3), "test": as_batches(test, batch_rows=1)}, True
    )
    dropped = frame(dropped)
    assert sorted(dropped["id"]) == [0, 2, 3, 4, 5, 7]
    assert not dropped["text"].isin(test["text"]).any()
    assert cleaning == {
        "clean_splits": True,
        "train_published": 8,
        "train_in_test": 2,
        "train_repeated": 0,
        "train_dropped": 2,
    }


def test_repeated_train_texts_keep_the_first(caplog: pytest.LogCaptureFixture) -> None:
    train = reviews(4, 4, prefix="train")
    test = reviews(2, 2, prefix="test")
    train.loc[3, "text"] = train.loc[0, "text"]  # a repeat of review 0
    train.loc[5, "text"] = train.loc[0, "text"]  # another one
    train.loc[7, "text"] = train.loc[6, "text"]
    test.loc[1, "text"] = train.loc[6, "text"]  # review 6 (and its repeat 7) are in test
    # read 3 rows at a time: the repeats are found across batches
    sources = {"train": as_batches(train, batch_rows=3), "test": as_batches(test, batch_rows=1)}
    with caplog.at_level(logging.INFO):
        kept, _, cleaning = validate_reviews(sources, True)
    assert frame(kept)["id"].tolist() == [0, 1, 2, 4]
    assert cleaning["train_in_test"] == 2 and cleaning["train_repeated"] == 2
    assert cleaning["train_dropped"] == 4
    assert "2 train review(s) repeat the text of an earlier train review (train ids 3, 5)" in (
        caplog.text
    )
    # dropping them is the configured default: reported, not warned about
    assert all(r.levelno == logging.INFO for r in caplog.records if "train review(s)" in r.message)
    published, _, cleaning = validate_reviews(sources, False)
    assert len(frame(published)) == 8 and cleaning["train_dropped"] == 0


def test_split_report_counts_what_the_splits_share(caplog: pytest.LogCaptureFixture) -> None:
    train = reviews(20, 20, prefix="train")
    valid = reviews(3, 3, prefix="valid")
    test = reviews(5, 5, prefix="test")
    cleaning = {"clean_splits": False, "train_published": 40}
    report = split_report(cleaning, train, valid, test)
    assert report["train"] == 40 and report["valid"] == 6 and report["test"] == 10
    assert report["valid_in_train"] == report["test_in_train"] == report["test_in_valid"] == 0
    assert "share" not in caplog.text
    valid.loc[2, "text"] = train.loc[7, "text"]
    test.loc[0, "text"] = valid.loc[0, "text"]
    with caplog.at_level(logging.WARNING):
        report = split_report(
            cleaning, as_batches(train, 7), as_batches(valid, 2), as_batches(test, 3)
        )
    assert (report["train"], report["valid"], report["test"]) == (40, 6, 10)
    assert report["valid_in_train"] == 1 and report["test_in_valid"] == 1
    assert "the splits share review texts" in caplog.text


FULL_IMDB = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "imdb"


@pytest.mark.skipif(not FULL_IMDB.is_dir(), reason="the full IMDB is not beside the checkout")
def test_full_imdb_clean_splits_share_nothing() -> None:
    """On the real 25k + 25k: the counts the issue found, and nothing shared once cleaned."""
    raw = {
        split: pd.read_parquet(FULL_IMDB / f"{split}.parquet", columns=["text", "label"])
        .rename_axis("id")
        .reset_index()  # ids repeat across the two labels there: the row number, as the source
        for split in ("train", "test")
    }
    train, test, cleaning = validate_reviews(raw, True)
    assert cleaning["train_in_test"] == 123 and cleaning["train_repeated"] == 96
    kept, valid = split_train_valid(train, 0.1, seed=42)
    report = split_report(cleaning, kept, valid, test)
    assert (report["train"], report["valid"], report["test"]) == (22_302, 2_479, 25_000)
    assert report["valid_in_train"] == report["test_in_train"] == report["test_in_valid"] == 0
    published, _, cleaning = validate_reviews(raw, False)
    kept, valid = split_train_valid(published, 0.1, seed=42)
    assert (cleaning["train_published"], cleaning["train_dropped"]) == (25_000, 0)
    assert split_report(cleaning, kept, valid, test)["valid_in_train"] > 0


# --- split -------------------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_complete() -> None:
    train = reviews(300, 100)
    kept, valid = map(frame, split_train_valid(train, valid_fraction=0.25, seed=7))
    assert len(valid) == 100 and len(kept) == 300
    assert valid["label"].value_counts().to_dict() == {0: 75, 1: 25}
    assert kept["label"].value_counts().to_dict() == {0: 225, 1: 75}
    assert set(kept["id"]).isdisjoint(valid["id"])
    assert sorted([*kept["id"], *valid["id"]]) == list(range(400))
    assert kept["id"].is_monotonic_increasing and valid["id"].is_monotonic_increasing


def test_split_reproducible_by_seed() -> None:
    train = reviews(100, 100)

    def valid_ids(seed: int, batch_rows: int = 1000) -> list[int]:
        return frame(split_train_valid(as_batches(train, batch_rows), 0.2, seed)[1])["id"].tolist()

    first = valid_ids(1)
    assert valid_ids(1) == first
    assert valid_ids(1, batch_rows=7) == first  # however the rows are batched
    assert valid_ids(2) != first


def test_split_rejects_bad_fraction_and_unstratifiable_train() -> None:
    with pytest.raises(ValueError, match=r"valid_fraction must be in \(0, 1\)"):
        split_train_valid(reviews(10, 10), valid_fraction=1.0, seed=0)
    with pytest.raises(ValueError, match="at least 2 reviews of each label"):
        split_train_valid(reviews(10, 1), valid_fraction=0.2, seed=0)


# --- pipeline ----------------------------------------------------------------------------------


class KeptDataset(MemoryDataset):
    """A memory dataset the runner does not release after its last reader, to be inspected."""

    def _release(self) -> None:
        pass


def run_pipeline(raw: dict[str, pd.DataFrame], clean: bool) -> dict[str, Any]:
    """The ingestion pipeline on ``raw``: its outputs, tables read whole."""
    outputs = ["train_reviews", "valid_reviews", "test_reviews", "split_report"]
    catalog = DataCatalog(
        {
            "imdb_raw": MemoryDataset(raw),
            "params:ingestion.valid_fraction": MemoryDataset(0.2),
            "params:ingestion.seed": MemoryDataset(42),
            "params:ingestion.clean_splits": MemoryDataset(clean),
            **{name: KeptDataset() for name in outputs},
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    loaded = {name: catalog.load(name) for name in outputs}
    return {name: frame(v) if isinstance(v, Batches) else v for name, v in loaded.items()}


def test_pipeline_runs_and_keeps_test_apart() -> None:
    train = reviews(50, 50, prefix="train")
    test = reviews(20, 20, prefix="test")
    test.loc[5, "text"] = train.loc[10, "text"]  # a review shared by train and test
    out = run_pipeline({"train": train, "test": test}, clean=True)
    assert len(out["valid_reviews"]) == 20 and len(out["train_reviews"]) == 79
    assert out["split_report"]["train_dropped"] == 1 and out["split_report"]["train"] == 79
    pd.testing.assert_frame_equal(out["test_reviews"], test)
    for name in ("train_reviews", "valid_reviews"):
        assert not out[name]["text"].isin(test["text"]).any()
        assert list(out[name].columns) == ["id", "text", "label"]
    assert set(out["train_reviews"]["id"]).isdisjoint(out["valid_reviews"]["id"])
    assert {node.name for node in create_pipeline().nodes} == {
        "validate_imdb_reviews",
        "split_train_valid",
        "report_splits",
    }


def test_pipeline_fails_on_bad_label() -> None:
    test = reviews(2, 2)
    test.loc[0, "label"] = -1
    with pytest.raises(ValueError, match="IMDB test table"):
        run_pipeline({"train": reviews(10, 10), "test": test}, clean=False)


# --- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "runtime_params", "expected"),
    [
        ("base", {}, "data/01_raw/imdb_sample"),
        ("full", {}, "hf://stanfordnlp/imdb"),
        ("full", {"imdb_source": "/data/aclImdb_v1.tar.gz"}, "/data/aclImdb_v1.tar.gz"),
        ("base", {"imdb_source": "/data/parquet"}, "/data/parquet"),
    ],
)
def test_one_runtime_parameter_switches_the_source(
    env: str, runtime_params: dict, expected: str
) -> None:
    loader = project_config(env, runtime_params)
    catalog = loader["catalog"]
    assert catalog["imdb_raw"]["source"] == expected
    assert catalog["imdb_raw"]["type"] == "imdb_sentiment.datasets.imdb_source.IMDBSourceDataset"
    params = loader["parameters"]["ingestion"]
    assert 0 < params["valid_fraction"] < 1 and isinstance(params["seed"], int)
