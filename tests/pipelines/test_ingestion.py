"""Ingestion nodes on small tables, the pipeline through SequentialRunner, and its config."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from imdb_sentiment.pipelines.ingestion import create_pipeline
from imdb_sentiment.pipelines.ingestion.nodes import (
    check_reviews,
    split_train_valid,
    validate_reviews,
)
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


# --- checks ------------------------------------------------------------------------------------


def test_clean_table_passes_unchanged() -> None:
    table = reviews(3, 2)
    pd.testing.assert_frame_equal(check_reviews(table, "train"), table)


def test_unusable_text_is_dropped_with_count(caplog: pytest.LogCaptureFixture) -> None:
    table = reviews(3, 3).astype({"text": object})
    table.loc[1, "text"] = ""
    table.loc[2, "text"] = "   \n"
    table.loc[4, "text"] = None
    with caplog.at_level(logging.WARNING):
        cleaned = check_reviews(table, "test")
    assert cleaned["id"].tolist() == [0, 3, 5]
    assert "IMDB test table: dropped 3 row(s)" in caplog.text and "ids 1, 2, 4" in caplog.text


def test_label_outside_0_1_names_table_and_row() -> None:
    table = reviews(2, 2)
    table.loc[3, "label"] = 2
    with pytest.raises(ValueError, match=r"IMDB valid table: 1 label\(s\).*id 3: 2"):
        check_reviews(table, "valid")


def test_missing_column_and_repeated_id() -> None:
    with pytest.raises(ValueError, match=r"train table lacks column\(s\) \['label'\]"):
        check_reviews(reviews(2, 2).drop(columns="label"), "train")
    table = reviews(2, 2)
    table.loc[3, "id"] = 0
    with pytest.raises(ValueError, match=r"column 'id' repeats 1 time\(s\), e.g. id 0"):
        check_reviews(table, "train")


def test_missing_split() -> None:
    with pytest.raises(ValueError, match="imdb_raw has no 'test' table"):
        validate_reviews({"train": reviews(2, 2)}, drop_test_overlap_from_train=False)


def test_overlap_reported_and_optionally_dropped(caplog: pytest.LogCaptureFixture) -> None:
    train = reviews(4, 4, prefix="train")
    test = reviews(2, 2, prefix="test")
    test.loc[0, "text"] = train.loc[1, "text"]
    test.loc[3, "text"] = train.loc[6, "text"]
    with caplog.at_level(logging.INFO):
        kept, test_out = validate_reviews({"train": train, "test": test}, False)
    assert "2 train review(s) also appear verbatim in test" in caplog.text
    # keeping them is the configured default: reported, not warned about
    assert all(r.levelno == logging.INFO for r in caplog.records if "verbatim" in r.message)
    assert len(kept) == 8
    pd.testing.assert_frame_equal(test_out, test)
    dropped, _ = validate_reviews({"train": train, "test": test}, True)
    assert sorted(dropped["id"]) == [0, 2, 3, 4, 5, 7]
    assert not dropped["text"].isin(test["text"]).any()


# --- split -------------------------------------------------------------------------------------


def test_split_is_stratified_disjoint_and_complete() -> None:
    train = reviews(300, 100)
    kept, valid = split_train_valid(train, valid_fraction=0.25, seed=7)
    assert len(valid) == 100 and len(kept) == 300
    assert valid["label"].value_counts().to_dict() == {0: 75, 1: 25}
    assert kept["label"].value_counts().to_dict() == {0: 225, 1: 75}
    assert set(kept["id"]).isdisjoint(valid["id"])
    assert sorted([*kept["id"], *valid["id"]]) == list(range(400))
    assert kept["id"].is_monotonic_increasing and valid["id"].is_monotonic_increasing


def test_split_reproducible_by_seed() -> None:
    train = reviews(100, 100)
    first = split_train_valid(train, 0.2, seed=1)[1]["id"].tolist()
    assert split_train_valid(train, 0.2, seed=1)[1]["id"].tolist() == first
    assert split_train_valid(train, 0.2, seed=2)[1]["id"].tolist() != first


def test_split_rejects_bad_fraction_and_unstratifiable_train() -> None:
    with pytest.raises(ValueError, match=r"valid_fraction must be in \(0, 1\)"):
        split_train_valid(reviews(10, 10), valid_fraction=1.0, seed=0)
    with pytest.raises(ValueError, match="at least 2 reviews of each label"):
        split_train_valid(reviews(10, 1), valid_fraction=0.2, seed=0)


# --- pipeline ----------------------------------------------------------------------------------


def run_pipeline(raw: dict[str, pd.DataFrame], drop_overlap: bool) -> dict[str, pd.DataFrame]:
    outputs = ["train_reviews", "valid_reviews", "test_reviews"]
    catalog = DataCatalog(
        {
            "imdb_raw": MemoryDataset(raw),
            "params:ingestion.valid_fraction": MemoryDataset(0.2),
            "params:ingestion.seed": MemoryDataset(42),
            "params:ingestion.drop_test_overlap_from_train": MemoryDataset(drop_overlap),
            **{name: MemoryDataset() for name in outputs},
        }
    )
    SequentialRunner().run(create_pipeline(), catalog)
    return {name: catalog.load(name) for name in outputs}


def test_pipeline_runs_and_keeps_test_apart() -> None:
    train = reviews(50, 50, prefix="train")
    test = reviews(20, 20, prefix="test")
    test.loc[5, "text"] = train.loc[10, "text"]  # a review shared by train and test
    out = run_pipeline({"train": train, "test": test}, drop_overlap=True)
    assert len(out["valid_reviews"]) == 20 and len(out["train_reviews"]) == 79
    pd.testing.assert_frame_equal(out["test_reviews"], test)
    for name in ("train_reviews", "valid_reviews"):
        assert not out[name]["text"].isin(test["text"]).any()
        assert list(out[name].columns) == ["id", "text", "label"]
    assert set(out["train_reviews"]["id"]).isdisjoint(out["valid_reviews"]["id"])
    assert {node.name for node in create_pipeline().nodes} == {
        "validate_imdb_reviews",
        "split_train_valid",
    }


def test_pipeline_fails_on_bad_label() -> None:
    test = reviews(2, 2)
    test.loc[0, "label"] = -1
    with pytest.raises(ValueError, match="IMDB test table"):
        run_pipeline({"train": reviews(10, 10), "test": test}, drop_overlap=False)


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
