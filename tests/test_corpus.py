"""scripts/make_corpus.py: a seeded, perturbed corpus in the Hub's schema (from the sample)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import make_corpus  # noqa: E402

from imdb_sentiment.datasets.imdb_source import IMDBSourceDataset  # noqa: E402

SAMPLE = ROOT / "data" / "01_raw" / "imdb_sample"
SIZE, ROWS_PER_FILE = 500, 120  # 250 reviews per split: 3 files of 120 and one of 10


def _make(out: Path, seed: int = 3, workers: int = 1) -> dict:
    return make_corpus.make_corpus(
        out, SIZE, source=SAMPLE, seed=seed, rows_per_file=ROWS_PER_FILE, workers=workers
    )


def _tables(folder: Path) -> dict[str, pa.Table]:
    return {
        split: pa.concat_tables(pq.read_table(f) for f in sorted(folder.glob(f"{split}-*.parquet")))
        for split in ("train", "test")
    }


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("corpus") / "corpus_500"
    _make(folder)
    return folder


def test_files_schema_and_manifest(corpus: Path) -> None:
    names = sorted(p.name for p in corpus.iterdir())
    assert names == [
        "corpus.json",
        *(f"test-{i:05d}-of-00003.parquet" for i in range(3)),
        *(f"train-{i:05d}-of-00003.parquet" for i in range(3)),
    ]
    manifest = json.loads((corpus / "corpus.json").read_text())
    tables = _tables(corpus)
    for split, table in tables.items():
        assert table.schema == make_corpus.SCHEMA  # text, label, id: the Hub's schema
        assert table.num_rows == 250 == manifest["splits"][split]["reviews"]
        assert table.column("id").to_pylist() == list(range(250))
        labels = table.column("label").to_pylist()
        assert set(labels) == {0, 1} and 75 < sum(labels) < 175  # drawn from a balanced source
        assert manifest["splits"][split]["positive"] == sum(labels)
    assert manifest["seed"] == 3 and manifest["reviews"] == SIZE


def test_no_text_repeats_another_or_the_source(corpus: Path) -> None:
    texts = [t for table in _tables(corpus).values() for t in table.column("text").to_pylist()]
    assert len(set(texts)) == len(texts) == SIZE
    assert all(text.strip() for text in texts)
    source = {
        t
        for split in ("train", "test")
        for t in pq.read_table(SAMPLE / f"{split}.parquet")["text"].to_pylist()
    }
    assert not source & set(texts)


def test_perturbations_add_new_words_like_a_bigger_corpus(corpus: Path) -> None:
    source_words = {
        w for t in pq.read_table(SAMPLE / "train.parquet")["text"].to_pylist() for w in t.split(" ")
    }
    words = [w for t in _tables(corpus)["train"].column("text").to_pylist() for w in t.split(" ")]
    new = {w for w in words if w not in source_words}
    assert 0.001 < len(new) / len(words) < 0.05  # typos: rare new words, as a real corpus has


def test_reproducible_whatever_the_number_of_workers(corpus: Path, tmp_path: Path) -> None:
    _make(tmp_path / "again", workers=2)
    first, again = _tables(corpus), _tables(tmp_path / "again")
    for split in first:
        assert again[split].equals(first[split])
    _make(tmp_path / "other", seed=4)
    assert not _tables(tmp_path / "other")["train"].equals(first["train"])


def test_the_project_reads_it_as_an_imdb_source(corpus: Path) -> None:
    loaded = IMDBSourceDataset(source=str(corpus), batch_rows=100).load()
    for split, table in _tables(corpus).items():
        assert loaded[split].num_rows == 250
        assert loaded[split].column("id").to_pylist() == table.column("id").to_pylist()
        assert loaded[split].column("text").to_pylist() == table.column("text").to_pylist()


def test_written_whole_or_not_at_all(tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "train-00000-of-00001.parquet").write_text("an earlier corpus")
    bad_source = tmp_path / "only_train"
    bad_source.mkdir()
    (bad_source / "train.parquet").write_bytes((SAMPLE / "train.parquet").read_bytes())
    with pytest.raises(FileNotFoundError, match="no test"):
        make_corpus.make_corpus(out, 10, source=bad_source, workers=1)
    assert [p.name for p in tmp_path.iterdir() if p.name != "only_train"] == ["corpus"]
    assert (out / "train-00000-of-00001.parquet").read_text() == "an earlier corpus"
    with pytest.raises(ValueError, match=">= 2 reviews"):
        make_corpus.make_corpus(out, 1, source=SAMPLE)


def test_default_folder_names_the_size() -> None:
    assert make_corpus.default_out(500_000) == Path("data/01_raw/corpus_500k")
    assert make_corpus.default_out(1234) == Path("data/01_raw/corpus_1234")
