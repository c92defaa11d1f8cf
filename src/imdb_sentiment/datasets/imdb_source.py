"""IMDB reviews from one of four sources, picked by a single string.

``source`` is read as:

* ``hf://<name>``: a Hugging Face Hub dataset (``hf://stanfordnlp/imdb``), via
  ``datasets.load_dataset(name, cache_dir=...)``;
* a path ending ``.tar.gz`` / ``.tgz``: the original ``aclImdb_v1.tar.gz``, read member by
  member straight from the archive (nothing is extracted);
* a directory holding ``train/pos`` etc. (or an ``aclImdb/`` folder that does): the extracted
  archive;
* a directory of parquet files in the Hub's schema (``train*.parquet``, ``test*.parquet``,
  searched recursively; columns ``text``, ``label`` and optionally ``id``), read with pyarrow a
  batch of rows at a time (so a corpus far bigger than IMDB is never held whole; the Hub
  library would first copy the files into its own cache).

Every source yields ``{"train": Batches, "test": Batches}`` (:mod:`imdb_sentiment.batches`)
with columns ``id`` (int64), ``text`` (string) and ``label`` (int64). ``id`` is the source's own
``id`` column where that is a unique integer key, otherwise the row number. Reviews from the
archive or folder are ordered by label, then file number, so they get the same ids as a parquet
copy kept in that order (the shared ``train.parquet`` / ``test.parquet`` are); the Hub's own row
order differs.

Local sources never touch the network: the Hugging Face libraries are put in offline mode for
them. This dataset checks file format (layout, columns, types, encoding, label values per file);
data-level checks (empty text, train/test overlap) belong to the ingestion pipeline.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.batches import DEFAULT_BATCH_ROWS, Batches
from imdb_sentiment.reviews import COLUMNS, REVIEW_SCHEMA

logger = logging.getLogger(__name__)

SPLITS = ("train", "test")
CLASSES = {"neg": 0, "pos": 1}
HUB_PREFIX = "hf://"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz")
LAYOUT = "aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt"
_REVIEW_PATH = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_TRUE = {"1", "ON", "YES", "TRUE"}
_LOCAL_HINT = (
    "To work offline, point the `imdb_source` parameter at a local copy instead, e.g. "
    "`kedro run --params imdb_source=/path/to/aclImdb_v1.tar.gz` (or an extracted aclImdb "
    "folder, or a folder of train*.parquet / test*.parquet files)."
)


class IMDBSourceDataset(AbstractDataset[None, dict[str, Batches]]):
    """Read-only Kedro dataset: the IMDB train and test reviews from ``source``.

    Parquet files are read lazily, ``batch_rows`` reviews at a time; the other sources are
    read whole (they are IMDB-sized) and handed out in batches of that size.
    """

    def __init__(
        self,
        source: str,
        cache_dir: str | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Remember where to read from; nothing is opened until ``load``."""
        if not isinstance(source, str) or not source.strip():
            raise DatasetError(f"IMDB source must be a non-empty string, got {source!r}")
        self._source = source.strip()
        self._cache_dir = cache_dir
        self._batch_rows = int(batch_rows)
        self.metadata = metadata

    def load(self) -> dict[str, Batches]:
        """Read both splits from the source, checked and in the common schema."""
        if self._source.startswith(HUB_PREFIX):
            return self._batches(_load_hub(self._source, self._cache_dir))
        path = Path(self._source).expanduser()
        if self._source.endswith(ARCHIVE_SUFFIXES):
            return self._batches(_load_archive(path))
        if path.is_dir():
            folder = _acl_folder(path)
            if folder is not None:
                return self._batches(_load_folder(folder))
            return _load_parquet_folder(path, self._batch_rows)
        raise DatasetError(
            f"IMDB source '{self._source}' does not exist or is not understood: expected "
            f"'hf://<name>', a .tar.gz/.tgz archive laid out as {LAYOUT}, an extracted aclImdb "
            "folder, or a folder of train*.parquet / test*.parquet files."
        )

    def _batches(self, frames: dict[str, pd.DataFrame]) -> dict[str, Batches]:
        """Frames read whole, handed out as batches of the common schema."""
        return {
            split: Batches.from_table(
                pa.Table.from_pandas(frame, schema=REVIEW_SCHEMA, preserve_index=False),
                self._batch_rows,
            )
            for split, frame in frames.items()
        }

    def save(self, data: dict[str, Batches]) -> None:
        """Refuse: the raw reviews are never written by the pipeline."""
        raise DatasetError(f"IMDBSourceDataset is read-only (source '{self._source}')")

    def _describe(self) -> dict[str, Any]:
        """Describe without touching the source or the network."""
        return {"source": self._source, "cache_dir": self._cache_dir}


# --- Hugging Face: hub and local parquet -------------------------------------------------------


def _env_offline() -> bool:
    """Whether the user asked the Hugging Face libraries to stay offline."""
    return any(
        os.environ.get(name, "").upper() in _TRUE
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


@contextmanager
def _hf_offline(enabled: bool) -> Iterator[None]:
    """Put ``datasets`` and ``huggingface_hub`` in offline mode for the block, then restore.

    Both libraries read the offline switches once at import, so setting the environment variables
    here would not be seen; their module constants are what they consult on each call.
    """
    import datasets.config  # noqa: PLC0415 (slow import, only when a source is read)
    import huggingface_hub.constants  # noqa: PLC0415

    targets = [
        (datasets.config, "HF_HUB_OFFLINE"),
        (datasets.config, "HF_DATASETS_OFFLINE"),
        (huggingface_hub.constants, "HF_HUB_OFFLINE"),
    ]
    saved = [(module, name, getattr(module, name)) for module, name in targets]
    try:
        if enabled:
            for module, name in targets:
                setattr(module, name, True)
        yield
    finally:
        for module, name, value in saved:
            setattr(module, name, value)


def _load_hub(source: str, cache_dir: str | None) -> dict[str, pd.DataFrame]:
    """Load ``hf://<name>`` through ``datasets``; a clear error if the Hub cannot be reached."""
    import datasets  # noqa: PLC0415 (slow import, only when a source is read)

    name = source[len(HUB_PREFIX) :].strip("/")
    if not name:
        raise DatasetError(
            f"IMDB source '{source}' names no dataset; use e.g. 'hf://stanfordnlp/imdb'"
        )
    try:
        with _hf_offline(_env_offline()):
            loaded = datasets.load_dataset(name, cache_dir=cache_dir)
    except Exception as error:
        raise DatasetError(
            f"Could not load IMDB source '{source}' from the Hugging Face Hub "
            f"({type(error).__name__}: {error}). {_LOCAL_HINT}"
        ) from error
    return {split: _hf_split_to_frame(loaded, split, source) for split in SPLITS}


def _load_parquet_folder(folder: Path, batch_rows: int) -> dict[str, Batches]:
    """``train*.parquet`` and ``test*.parquet`` under ``folder``, each split read lazily."""
    splits = {}
    for split in SPLITS:
        files = sorted(p for p in folder.rglob(f"{split}*.parquet") if p.is_file())
        if not files:
            raise DatasetError(
                f"IMDB source folder '{folder}' has no {split}*.parquet file; expected an "
                f"extracted aclImdb folder ({LAYOUT}) or parquet files named train*.parquet and "
                "test*.parquet with columns text, label (and optionally id)."
            )
        for file in files:
            _check_parquet_file(file)
        splits[split] = _parquet_split(files, split, batch_rows)
    return splits


def _parquet_split(files: list[Path], split: str, batch_rows: int) -> Batches:
    """One split's files as batches of the common schema, in file order.

    ``id`` comes from the files where it is a unique integer key over the whole split (only
    that column is read to find out), otherwise it is the row number in the split.
    """
    own_ids = _unique_integer_ids(files)
    if not own_ids:
        _warn_row_number_ids(", ".join(str(file) for file in files), split)
    columns = ["id", "text", "label"] if own_ids else ["text", "label"]

    def make() -> Iterator[pa.RecordBatch]:
        row = 0
        for file in files:
            with pq.ParquetFile(file) as parquet:
                for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                    ids = (
                        batch.column("id")
                        if own_ids
                        else pa.array(np.arange(row, row + len(batch)))
                    )
                    row += len(batch)
                    yield pa.record_batch(
                        [ids, batch.column("text"), batch.column("label")], names=COLUMNS
                    ).cast(REVIEW_SCHEMA)

    rows = sum(pq.ParquetFile(file).metadata.num_rows for file in files)
    return Batches(REVIEW_SCHEMA, make, num_rows=rows)


def _unique_integer_ids(files: list[Path]) -> bool:
    """Whether every file has an integer ``id`` column, with no nulls and no repeats overall."""
    ids = []
    for file in files:
        schema = pq.read_schema(file)
        if "id" not in schema.names or not pa.types.is_integer(schema.field("id").type):
            return False
        ids.append(pq.read_table(file, columns=["id"]).column("id"))
    column = pa.chunked_array(ids)
    return column.null_count == 0 and pd.Index(column.to_numpy()).is_unique


def _warn_row_number_ids(where: str, split: str) -> None:
    logger.warning(
        "IMDB source %s, split '%s': column 'id' is not a unique integer key; "
        "using row numbers as ids instead",
        where,
        split,
    )


def _check_parquet_file(file: Path) -> None:
    """Fail naming ``file`` if it is unreadable, lacks a column, or has a label outside {0, 1}."""
    try:
        parquet = pq.ParquetFile(file)
        schema = parquet.schema_arrow
    except Exception as error:
        raise DatasetError(
            f"IMDB parquet file '{file}' is unreadable (truncated or corrupt?): {error}"
        ) from error
    missing = [column for column in ("text", "label") if column not in schema.names]
    if missing:
        raise DatasetError(
            f"IMDB parquet file '{file}' lacks column(s) {missing}; it has {schema.names}"
        )
    text_type, label_type = schema.field("text").type, schema.field("label").type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        raise DatasetError(f"IMDB parquet file '{file}': column 'text' is {text_type}, not string")
    if not pa.types.is_integer(label_type):
        raise DatasetError(
            f"IMDB parquet file '{file}': column 'label' is {label_type}, not integer"
        )
    try:
        labels = parquet.read(columns=["label"]).column("label").to_pandas()
    except Exception as error:
        raise DatasetError(f"IMDB parquet file '{file}' is corrupt: {error}") from error
    bad = labels[~labels.isin([0, 1])]
    if len(bad):
        rows = ", ".join(f"row {row}: {value}" for row, value in bad.head(5).items())
        raise DatasetError(
            f"IMDB parquet file '{file}': {len(bad)} label(s) outside {{0, 1}} ({rows})"
        )
    _check_text_is_utf8(parquet, file)


def _check_text_is_utf8(parquet: pq.ParquetFile, file: Path) -> None:
    """Fail naming ``file`` and the row of a text that is not valid UTF-8.

    Parquet strings must be UTF-8, but writers that skip the check can store, for example, a
    lone surrogate; Arrow then fails deep inside ``datasets`` naming neither file nor row.
    """
    try:
        texts = parquet.read(columns=["text"]).column("text")
    except Exception as error:
        raise DatasetError(f"IMDB parquet file '{file}' is corrupt: {error}") from error
    start = 0
    for chunk in texts.chunks:
        try:
            chunk.validate(full=True)
        except pa.ArrowInvalid:
            for offset, raw in enumerate(
                chunk.view(
                    pa.large_binary() if pa.types.is_large_string(chunk.type) else pa.binary()
                ).to_pylist()
            ):
                try:
                    if raw is not None:
                        raw.decode("utf-8")
                except UnicodeDecodeError as bad:
                    context = raw[max(bad.start - 30, 0) : bad.end + 10]
                    raise DatasetError(
                        f"IMDB parquet file '{file}': the text at row {start + offset} is not "
                        f"valid UTF-8 ({bad.reason} at byte {bad.start}, near {context!r}; a "
                        "lone surrogate or a broken encoding): fix or drop that review"
                    ) from None
        start += len(chunk)


def _hf_split_to_frame(loaded: Any, split: str, where: str) -> pd.DataFrame:
    """One split of a ``datasets.DatasetDict`` as a frame in the common schema."""
    if split not in loaded:
        raise DatasetError(f"IMDB source {where} has no '{split}' split (has {list(loaded)})")
    frame = loaded[split].to_pandas()
    missing = [column for column in ("text", "label") if column not in frame.columns]
    if missing:
        raise DatasetError(f"IMDB source {where}, split '{split}', lacks column(s) {missing}")
    bad = frame.loc[~frame["label"].isin([0, 1]), "label"]
    if len(bad):
        raise DatasetError(
            f"IMDB source {where}, split '{split}': {len(bad)} label(s) outside {{0, 1}}, "
            f"first at row {bad.index[0]}: {bad.iloc[0]}"
        )
    ids = frame["id"] if "id" in frame.columns else None
    if ids is not None and not (pd.api.types.is_integer_dtype(ids) and ids.is_unique):
        _warn_row_number_ids(where, split)
        ids = None
    return _frame(
        ids=ids.to_numpy() if ids is not None else range(len(frame)),
        texts=frame["text"].to_numpy(dtype=object),
        labels=frame["label"].to_numpy(),
    )


def _frame(ids: Any, texts: Any, labels: Any) -> pd.DataFrame:
    """The common schema: ``id`` int64, ``text`` str, ``label`` int64."""
    return pd.DataFrame(
        {
            "id": pd.Series(ids, dtype="int64"),
            "text": pd.Series(texts, dtype=object),
            "label": pd.Series(labels, dtype="int64"),
        },
        columns=COLUMNS,
    )


# --- the original release: archive or extracted folder ---------------------------------------


def _acl_folder(path: Path) -> Path | None:
    """The folder holding ``train/`` and ``test/`` review folders, if ``path`` is one."""
    for candidate in (path, path / "aclImdb"):
        if (candidate / "train" / "pos").is_dir() or (candidate / "train" / "neg").is_dir():
            return candidate
    return None


def _decode(raw: bytes, where: str) -> str:
    """A review file's text; a non-UTF-8 file is an error naming it."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise DatasetError(f"IMDB review file '{where}' is not valid UTF-8: {error}") from error


def _records_to_splits(
    records: dict[str, list[tuple[int, int, str]]], where: str
) -> dict[str, pd.DataFrame]:
    """(label, file number, text) records per split → frames ordered by label, file number."""
    splits = {}
    for split in SPLITS:
        rows = sorted(records[split], key=lambda record: (record[0], record[1]))
        for name, label in CLASSES.items():
            if not any(record[0] == label for record in rows):
                raise DatasetError(
                    f"IMDB source '{where}' has no review under {split}/{name}/: expected "
                    f"the layout {LAYOUT}"
                )
        splits[split] = _frame(
            ids=range(len(rows)),
            texts=[record[2] for record in rows],
            labels=[record[0] for record in rows],
        )
    return splits


def _load_folder(folder: Path) -> dict[str, pd.DataFrame]:
    """Read an extracted ``aclImdb`` folder."""
    records: dict[str, list[tuple[int, int, str]]] = {split: [] for split in SPLITS}
    for split in SPLITS:
        for name, label in CLASSES.items():
            class_dir = folder / split / name
            if not class_dir.is_dir():
                raise DatasetError(
                    f"IMDB folder '{folder}' lacks {split}/{name}/: expected the layout {LAYOUT}"
                )
            for file in class_dir.iterdir():
                match = _REVIEW_PATH.search(f"{split}/{name}/{file.name}")
                if match is None or not file.is_file():
                    continue
                text = _decode(file.read_bytes(), str(file))
                records[split].append((label, int(match.group(3)), text))
    return _records_to_splits(records, str(folder))


def _load_archive(archive: Path) -> dict[str, pd.DataFrame]:
    """Read ``aclImdb_v1.tar.gz`` in one streaming pass, without extracting it."""
    if not archive.is_file():
        raise DatasetError(f"IMDB archive '{archive}' does not exist")
    records: dict[str, list[tuple[int, int, str]]] = {split: [] for split in SPLITS}
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                match = _REVIEW_PATH.search(PurePosixPath(member.name).as_posix())
                if match is None or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                text = _decode(handle.read(), f"{archive}:{member.name}")
                split, name, number = match.group(1), match.group(2), int(match.group(3))
                records[split].append((CLASSES[name], number, text))
    except DatasetError:
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DatasetError(
            f"IMDB archive '{archive}' is unreadable (truncated or not a tar.gz?): {error}"
        ) from error
    return _records_to_splits(records, str(archive))
