"""New reviews to score: a csv, parquet or jsonl file, or a folder of .txt files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from kedro.io import AbstractDataset, DatasetError

FORMATS = ".csv, .parquet, .jsonl (or .ndjson) or a folder of .txt files"
USAGE = "kedro run --pipelines=predict --params predict_source=PATH"
SOURCE_ATTR = "source"  # DataFrame.attrs key naming where the table was read from


class ReviewsToScoreDataset(AbstractDataset[None, pd.DataFrame]):
    """Read-only: the rows of ``source`` as a DataFrame, columns as in the file.

    csv: every column as text (a csv has no types; empty fields stay empty strings). parquet:
    its own types. jsonl: one JSON object per line, values as written (a number stays a
    number, ``null`` stays missing). A folder: every ``*.txt`` below it in path order, columns
    ``id`` (the path without ``.txt``) and ``text`` (a file that is not UTF-8 keeps its bytes,
    which the predict node reports as not text). ``attrs["source"]`` names the source. Rows
    are whatever the source holds; deciding which can be scored is the node's job.
    """

    def __init__(self, source: str | None, metadata: dict[str, Any] | None = None) -> None:
        self._source = source
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        if self._source is None or not str(self._source).strip():
            raise DatasetError(
                f"predict_source is not set: `{USAGE}` names the reviews to score ({FORMATS})"
            )
        path = Path(str(self._source)).expanduser()
        if not path.exists():
            raise DatasetError(f"predict_source {path} does not exist ({FORMATS})")
        if path.is_dir():
            table = _read_folder(path)
        else:
            readers = {
                ".csv": _read_csv,
                ".parquet": _read_parquet,
                ".jsonl": _read_jsonl,
                ".ndjson": _read_jsonl,
            }
            reader = readers.get(path.suffix.lower())
            if reader is None:
                raise DatasetError(
                    f"predict_source {path}: unknown format {path.suffix!r}; use {FORMATS}"
                )
            table = reader(path)
        table.attrs[SOURCE_ATTR] = str(path)
        return table

    def save(self, data: pd.DataFrame) -> None:
        raise DatasetError("ReviewsToScoreDataset is read-only: it is the input of predict")

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source}


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DatasetError(f"predict_source {path}: not a readable csv ({error})") from error


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as error:
        raise DatasetError(f"predict_source {path}: not a readable parquet file ({error})") from (
            error
        )


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, UnicodeDecodeError) as error:
                raise DatasetError(
                    f"predict_source {path}: line {number} is not JSON ({error})"
                ) from error
            if not isinstance(record, dict):
                raise DatasetError(
                    f"predict_source {path}: line {number} is a JSON {type(record).__name__}, "
                    'not an object like {"text": "..."}'
                )
            records.append(record)
    # nullable types: an id missing from one line does not turn every id into a float
    return pd.DataFrame.from_records(records).convert_dtypes()


def _read_folder(folder: Path) -> pd.DataFrame:
    files = sorted(p for p in folder.rglob("*.txt") if p.is_file())
    if not files:
        raise DatasetError(f"predict_source {folder} holds no .txt file ({FORMATS})")
    ids, texts = [], []
    for file in files:
        raw = file.read_bytes()
        try:
            texts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(raw)  # reported by the predict node as not text
        ids.append(file.relative_to(folder).with_suffix("").as_posix())
    return pd.DataFrame({"id": ids, "text": texts})
