"""IMDBSourceDataset on every kind of source, built small in tmp_path, and on bad input."""

from __future__ import annotations

import io
import logging
import socket
import tarfile
from pathlib import Path

import datasets.config
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kedro.io import DatasetError

from imdb_sentiment.batches import Batches
from imdb_sentiment.datasets.imdb_source import IMDBSourceDataset
from imdb_sentiment.reviews import REVIEW_SCHEMA

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SAMPLE = PROJECT_ROOT / "data" / "01_raw" / "imdb_sample"

# (split, class folder, file number, rating, text)
REVIEWS = [
    ("train", "pos", 3, 9, "A wonderful film.<br />Loved it."),
    ("train", "pos", 1, 10, "Best movie ever, café scenes included."),
    ("train", "neg", 7, 2, "Dreadful."),
    ("train", "neg", 0, 1, "Two hours I will never get back."),
    ("test", "pos", 5, 8, "Quite good."),
    ("test", "neg", 2, 3, "Not for me."),
]
# what every source must yield: ordered by label, then file number
EXPECTED = {
    "train": pd.DataFrame(
        {
            "id": [0, 1, 2, 3],
            "text": [
                "Two hours I will never get back.",
                "Dreadful.",
                "Best movie ever, café scenes included.",
                "A wonderful film.<br />Loved it.",
            ],
            "label": [0, 0, 1, 1],
        }
    ),
    "test": pd.DataFrame({"id": [0, 1], "text": ["Not for me.", "Quite good."], "label": [0, 1]}),
}
for _frame in EXPECTED.values():
    _frame["text"] = _frame["text"].astype(object)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any connection or name lookup beyond the loopback interface fail at once."""
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo
    loopback = {"127.0.0.1", "::1", "localhost"}

    def connect(self: socket.socket, address, *args, **kwargs):
        if isinstance(address, tuple) and address[0] not in loopback:
            raise OSError(f"test guard: network access to {address} is forbidden")
        return real_connect(self, address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        if host not in loopback and host is not None:
            raise OSError(f"test guard: name lookup of {host} is forbidden")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def write_acl_folder(root: Path, reviews=REVIEWS) -> Path:
    """A tiny extracted aclImdb folder (with the non-review files the real one has)."""
    folder = root / "aclImdb"
    for split, name, number, rating, text in reviews:
        path = folder / split / name / f"{number}_{rating}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    for split in ("train", "test"):
        (folder / split / "urls_pos.txt").write_text("http://www.imdb.com/title/tt0000000/\n")
    (folder / "imdb.vocab").write_text("the\nand\n")
    return folder


def write_tar(archive: Path, files: dict[str, bytes]) -> Path:
    """A .tar.gz holding ``files`` (member name → content)."""
    with tarfile.open(archive, "w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return archive


def acl_members(reviews=REVIEWS) -> dict[str, bytes]:
    return {
        f"aclImdb/{split}/{name}/{number}_{rating}.txt": text.encode("utf-8")
        for split, name, number, rating, text in reviews
    } | {"aclImdb/README": b"Large Movie Review Dataset v1.0\n"}


def write_parquet(path: Path, columns: dict[str, list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)
    return path


def write_parquet_folder(root: Path, with_id: bool = True) -> Path:
    """The expected tables as a parquet folder in the Hub's schema."""
    for split, frame in EXPECTED.items():
        columns = {"text": frame["text"].tolist(), "label": frame["label"].tolist()}
        if with_id:
            columns["id"] = [100 + i for i in frame["id"]]
        write_parquet(root / f"{split}.parquet", columns)
    return root


def assert_expected(loaded: dict[str, Batches], id_offset: int = 0) -> None:
    assert set(loaded) == {"train", "test"}
    for split, expected in EXPECTED.items():
        assert loaded[split].schema == REVIEW_SCHEMA
        assert loaded[split].num_rows == len(expected)
        frame = loaded[split].to_pandas()
        want = expected.assign(id=expected["id"] + id_offset)
        pd.testing.assert_frame_equal(frame, want, check_dtype=False)


# --- every kind of source ---------------------------------------------------------------------


def test_extracted_folder(tmp_path: Path, no_network: None) -> None:
    folder = write_acl_folder(tmp_path)
    assert_expected(IMDBSourceDataset(source=str(folder)).load())
    # the folder that holds aclImdb/ works as well
    assert_expected(IMDBSourceDataset(source=str(tmp_path)).load())


def test_archive_read_without_extracting(tmp_path: Path, no_network: None) -> None:
    archive = write_tar(tmp_path / "aclImdb_v1.tar.gz", acl_members())
    assert_expected(IMDBSourceDataset(source=str(archive)).load())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aclImdb_v1.tar.gz"]


def test_tgz_suffix(tmp_path: Path, no_network: None) -> None:
    archive = write_tar(tmp_path / "imdb.tgz", acl_members())
    assert_expected(IMDBSourceDataset(source=str(archive)).load())


def test_parquet_folder_keeps_unique_ids(tmp_path: Path, no_network: None) -> None:
    folder = write_parquet_folder(tmp_path / "pq")
    loaded = IMDBSourceDataset(source=str(folder), cache_dir=str(tmp_path / "cache")).load()
    assert_expected(loaded, id_offset=100)


def test_parquet_folder_without_id_uses_row_numbers(tmp_path: Path, no_network: None) -> None:
    folder = write_parquet_folder(tmp_path / "pq", with_id=False)
    assert_expected(IMDBSourceDataset(source=str(folder), cache_dir=str(tmp_path / "c")).load())


def test_parquet_repeated_ids_replaced_by_row_numbers(
    tmp_path: Path, no_network: None, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "pq"
    write_parquet_folder(folder)
    frame = EXPECTED["train"]
    write_parquet(
        folder / "train.parquet",
        {"text": frame["text"].tolist(), "label": frame["label"].tolist(), "id": [0, 1, 0, 1]},
    )
    with caplog.at_level(logging.WARNING):
        loaded = IMDBSourceDataset(source=str(folder), cache_dir=str(tmp_path / "c")).load()
    assert loaded["train"].column("id").to_pylist() == [0, 1, 2, 3]
    assert "not a unique integer key" in caplog.text and "train.parquet" in caplog.text


def test_parquet_shards_in_hub_layout(tmp_path: Path, no_network: None) -> None:
    """A Hub snapshot: plain_text/{train,test,unsupervised}-0000k-of-0000n.parquet."""
    folder = tmp_path / "snapshot" / "plain_text"
    train = EXPECTED["train"]
    write_parquet(
        folder / "train-00000-of-00002.parquet",
        {"text": train["text"][:2].tolist(), "label": train["label"][:2].tolist()},
    )
    write_parquet(
        folder / "train-00001-of-00002.parquet",
        {"text": train["text"][2:].tolist(), "label": train["label"][2:].tolist()},
    )
    test = EXPECTED["test"]
    write_parquet(
        folder / "test-00000-of-00001.parquet",
        {"text": test["text"].tolist(), "label": test["label"].tolist()},
    )
    write_parquet(folder / "unsupervised-00000-of-00001.parquet", {"text": ["x"], "label": [-1]})
    loaded = IMDBSourceDataset(source=str(tmp_path / "snapshot"), cache_dir=str(tmp_path / "c"))
    assert_expected(loaded.load())
    # read a review at a time: the same rows, row numbers running on across the files
    one_by_one = IMDBSourceDataset(source=str(tmp_path / "snapshot"), batch_rows=1).load()
    assert [len(batch) for batch in one_by_one["train"]] == [1, 1, 1, 1]
    assert_expected(one_by_one)


def test_bundled_sample(no_network: None, tmp_path: Path) -> None:
    """The committed sample: 4,500 + 2,000 balanced reviews in at most 5 MB."""
    loaded = IMDBSourceDataset(source=str(SAMPLE), cache_dir=str(tmp_path / "c")).load()
    for split, size in (("train", 4500), ("test", 2000)):
        frame = loaded[split].to_pandas()
        assert len(frame) == size
        assert frame["label"].value_counts().to_dict() == {0: size // 2, 1: size // 2}
        assert frame["id"].is_unique
        assert frame["text"].map(lambda t: isinstance(t, str) and t.strip() != "").all()
    assert sum(p.stat().st_size for p in SAMPLE.glob("*.parquet")) <= 5_000_000


# --- network -----------------------------------------------------------------------------------


def test_guard_blocks_the_network(no_network: None) -> None:
    """The guard the local-source tests rely on really refuses outside connections."""
    with pytest.raises(OSError, match="test guard"):
        socket.create_connection(("198.51.100.7", 443), timeout=1)


def test_hub_offline_names_source_and_local_alternative(
    monkeypatch: pytest.MonkeyPatch, no_network: None, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    before = datasets.config.HF_HUB_OFFLINE
    dataset = IMDBSourceDataset(source="hf://stanfordnlp/imdb", cache_dir=str(tmp_path / "c"))
    with pytest.raises(DatasetError, match="hf://stanfordnlp/imdb") as error:
        dataset.load()
    assert "imdb_source=" in str(error.value) and "aclImdb_v1.tar.gz" in str(error.value)
    assert before == datasets.config.HF_HUB_OFFLINE  # the switch is restored


def test_describe_and_save_touch_nothing(no_network: None) -> None:
    dataset = IMDBSourceDataset(source="hf://stanfordnlp/imdb", cache_dir="somewhere")
    assert "hf://stanfordnlp/imdb" in str(dataset)
    assert dataset._describe() == {"source": "hf://stanfordnlp/imdb", "cache_dir": "somewhere"}
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save({})


# --- bad input ---------------------------------------------------------------------------------


def test_non_utf8_file_in_folder_is_named(tmp_path: Path) -> None:
    folder = write_acl_folder(tmp_path)
    bad = folder / "train" / "neg" / "9_1.txt"
    bad.write_bytes("Mauvais film, très".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"9_1\.txt.*not valid UTF-8"):
        IMDBSourceDataset(source=str(folder)).load()


def test_non_utf8_member_in_archive_is_named(tmp_path: Path) -> None:
    members = acl_members() | {"aclImdb/test/pos/4_7.txt": b"\xff\xfe broken"}
    archive = write_tar(tmp_path / "a.tar.gz", members)
    with pytest.raises(DatasetError, match=r"a\.tar\.gz:aclImdb/test/pos/4_7\.txt"):
        IMDBSourceDataset(source=str(archive)).load()


def test_archive_of_wrong_layout(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "wrong.tar.gz", {"reviews/good/1.txt": b"fine"})
    with pytest.raises(DatasetError, match=r"wrong\.tar\.gz.*aclImdb/\{train,test\}/\{pos,neg\}"):
        IMDBSourceDataset(source=str(archive)).load()


def test_archive_missing_one_class(tmp_path: Path) -> None:
    reviews = [r for r in REVIEWS if not (r[0] == "test" and r[1] == "neg")]
    archive = write_tar(tmp_path / "a.tar.gz", acl_members(reviews))
    with pytest.raises(DatasetError, match="no review under test/neg/"):
        IMDBSourceDataset(source=str(archive)).load()


def test_corrupt_and_truncated_archives(tmp_path: Path) -> None:
    not_tar = tmp_path / "junk.tar.gz"
    not_tar.write_bytes(b"this is not an archive")
    with pytest.raises(DatasetError, match=r"junk\.tar\.gz.*unreadable"):
        IMDBSourceDataset(source=str(not_tar)).load()
    whole = write_tar(tmp_path / "whole.tar.gz", acl_members()).read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DatasetError, match=r"cut\.tar\.gz.*unreadable"):
        IMDBSourceDataset(source=str(cut)).load()
    with pytest.raises(DatasetError, match=r"missing\.tar\.gz.*does not exist"):
        IMDBSourceDataset(source=str(tmp_path / "missing.tar.gz")).load()


def test_folder_missing_a_class_folder(tmp_path: Path) -> None:
    reviews = [r for r in REVIEWS if not (r[0] == "test" and r[1] == "pos")]
    folder = write_acl_folder(tmp_path, reviews)
    with pytest.raises(DatasetError, match=r"lacks test/pos/"):
        IMDBSourceDataset(source=str(folder)).load()


def test_unknown_sources(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist or is not understood"):
        IMDBSourceDataset(source=str(tmp_path / "nowhere")).load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match=r"has no train\*\.parquet"):
        IMDBSourceDataset(source=str(tmp_path / "empty")).load()
    with pytest.raises(DatasetError, match="names no dataset"):
        IMDBSourceDataset(source="hf://").load()
    with pytest.raises(DatasetError, match="non-empty string"):
        IMDBSourceDataset(source="  ")


def test_parquet_missing_column_is_named(tmp_path: Path) -> None:
    folder = write_parquet_folder(tmp_path / "pq")
    write_parquet(folder / "test.parquet", {"review": ["x"], "label": [0]})
    with pytest.raises(DatasetError, match=r"test\.parquet' lacks column\(s\) \['text'\]"):
        IMDBSourceDataset(source=str(folder)).load()


def test_parquet_label_outside_0_1_is_named(tmp_path: Path) -> None:
    folder = write_parquet_folder(tmp_path / "pq")
    write_parquet(folder / "train.parquet", {"text": ["a", "b", "c"], "label": [0, 1, 7]})
    with pytest.raises(DatasetError, match=r"train\.parquet.*outside \{0, 1\}.*row 2: 7"):
        IMDBSourceDataset(source=str(folder)).load()


def test_parquet_non_string_text_is_named(tmp_path: Path) -> None:
    folder = write_parquet_folder(tmp_path / "pq")
    write_parquet(folder / "train.parquet", {"text": [1, 2], "label": [0, 1]})
    with pytest.raises(DatasetError, match=r"train\.parquet.*column 'text' is int64"):
        IMDBSourceDataset(source=str(folder)).load()


def test_truncated_parquet_is_named(tmp_path: Path) -> None:
    folder = write_parquet_folder(tmp_path / "pq")
    path = folder / "train.parquet"
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(DatasetError, match=r"train\.parquet' is unreadable"):
        IMDBSourceDataset(source=str(folder)).load()


def test_parquet_text_that_is_not_utf8_names_file_and_row(tmp_path: Path) -> None:
    """A lone surrogate (UTF-8 cannot hold one, but a lax writer stores its bytes anyway)."""
    folder = write_parquet_folder(tmp_path / "pq")
    raw = [text.encode() for text in EXPECTED["train"]["text"]]
    raw[2] = b"Dread" + "\ud800".encode("utf-8", "surrogatepass") + b"ful."
    binary = pa.array(raw, type=pa.binary())
    texts = pa.Array.from_buffers(pa.string(), len(binary), binary.buffers())  # not validated
    table = pa.table({"text": texts, "label": pa.array(EXPECTED["train"]["label"].tolist())})
    pq.write_table(table, folder / "train.parquet")

    with pytest.raises(DatasetError, match=r"train\.parquet': the text at row 2 is not valid UTF"):
        IMDBSourceDataset(source=str(folder), cache_dir=str(tmp_path / "cache")).load()


def test_parquet_folder_leaves_no_cache_behind(tmp_path: Path, no_network: None) -> None:
    """Nothing of a parquet source is kept (`datasets` would keep an Arrow copy of each)."""
    cache = tmp_path / "cache"
    for name in ("one", "two"):
        folder = write_parquet_folder(tmp_path / name)
        assert_expected(IMDBSourceDataset(source=str(folder), cache_dir=str(cache)).load(), 100)
    assert not cache.exists() or list(cache.iterdir()) == []  # pyarrow reads them, no cache
