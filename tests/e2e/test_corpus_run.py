"""The data half on a generated corpus: `kedro run --pipelines ingestion,tokenization,features
--params imdb_source=<corpus>` as a user types it (through the scaling benchmark's runner), in
small batches, checked against the in-memory library functions on whole tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "scripts"))

import corpus_scaling  # noqa: E402
import make_corpus  # noqa: E402

from imdb_sentiment.datasets.encoded_reviews import EncodedReviewsDataset  # noqa: E402
from imdb_sentiment.datasets.vocabulary import VocabularyDataset  # noqa: E402
from imdb_sentiment.text import TokenizerConfig, tokenize_to_arrow  # noqa: E402
from imdb_sentiment.vocabulary import Vocabulary, encode_reviews  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.heavy]

SAMPLE = ROOT / "data" / "01_raw" / "imdb_sample"
SPLITS = ("train", "valid", "test")
NODES = {
    "validate_imdb_reviews",
    "split_train_valid",
    "report_splits",
    *(f"tokenize_{s}_reviews" for s in SPLITS),
    "build_vocabulary",
    "build_embedding_matrix",
    *(f"encode_{s}" for s in SPLITS),
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    """A 3,000-review corpus from the sample, through the data half 400 reviews at a time."""
    corpus = tmp_path_factory.mktemp("corpus") / "corpus_3k"
    make_corpus.make_corpus(corpus, 3000, source=SAMPLE, seed=1, rows_per_file=700, workers=2)
    workdir = tmp_path_factory.mktemp("run")
    result = corpus_scaling.run_data_half(ROOT, corpus, workdir, batch_rows=400)
    return result, workdir / "project" / "data"


def test_every_split_is_written_in_batches(run: tuple[dict, Path]) -> None:
    result, data = run
    assert set(result["nodes"]) == NODES
    assert result["peak_tree_rss_bytes"] > result["peak_tree_pss_bytes"] > 0
    assert result["cpu_s"] > 0 and result["wall_s"] > 0
    sizes = {}
    for split in SPLITS:
        path = data / "02_intermediate" / f"{split}_tokens.parquet"
        sizes[split] = pq.ParquetFile(path).metadata.num_rows
        assert pq.ParquetFile(path).num_row_groups == -(-sizes[split] // 400)
    # a generated corpus repeats no text: nothing is dropped, 10% of train is validation
    assert sizes == {"train": 1350, "valid": 150, "test": 1500}
    report = json.loads((data / "08_reporting" / "split_report.json").read_text())
    assert report["clean_splits"] and report["train_dropped"] == 0
    assert (report["train"], report["valid"], report["test"]) == (1350, 150, 1500)
    assert report["valid_in_train"] == report["test_in_train"] == report["test_in_valid"] == 0
    for split in SPLITS:
        ids = EncodedReviewsDataset(str(data / "05_model_input" / f"{split}_ids.npz")).load()
        assert len(ids) == sizes[split]


def test_results_equal_whole_table_functions(run: tuple[dict, Path]) -> None:
    _, data = run
    config = TokenizerConfig(lowercase=True)
    reviews = {
        split: pd.read_parquet(data / "02_intermediate" / f"{split}_reviews.parquet")
        for split in SPLITS
    }
    lists = {s: tokenize_to_arrow(frame["text"].tolist(), config) for s, frame in reviews.items()}
    vocabulary = Vocabulary.build(lists["train"], max_size=10_000, tokenization=config)
    assert VocabularyDataset(str(data / "03_primary" / "vocabulary.json")).load() == vocabulary
    for split, frame in reviews.items():
        tokens = pd.DataFrame(
            {"id": frame["id"], "label": frame["label"], "tokens": lists[split].to_pylist()}
        )
        expected = encode_reviews(tokens, vocabulary, split)
        stored = EncodedReviewsDataset(str(data / "05_model_input" / f"{split}_ids.npz")).load()
        for array in ("ids", "offsets", "labels", "review_ids"):
            np.testing.assert_array_equal(getattr(stored, array), getattr(expected, array))
    coverage = json.loads((data / "08_reporting" / "glove_coverage.json").read_text())
    assert coverage["train_tokens"] == vocabulary.train_tokens
