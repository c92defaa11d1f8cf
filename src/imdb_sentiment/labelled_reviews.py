"""Any labelled review set as a table of ``id``, ``text``, ``label``: an extra test set.

``read_labelled_reviews(path)`` reads

* a ``.csv``, ``.parquet`` or ``.jsonl`` file (one JSON object per line) with columns ``text`` and
  ``label`` (and optionally a unique integer ``id``; otherwise the row number is the id);
* a folder with ``pos/`` and ``neg/`` subfolders of ``.txt`` files, one review a file (the
  layout of IMDB's ``aclImdb/test``), read in name order, negatives first.

Labels are 0/1 (integers, or the strings "0"/"1") or ``neg``/``pos``/``negative``/``positive``
(any case). A missing, blank or non-text review, a label outside those, a line that is not
JSON, or a file that is not UTF-8 is an error naming the file and the row (or line).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SUFFIXES = (".csv", ".parquet", ".jsonl")
FOLDERS = {"neg": 0, "pos": 1}
LABEL_NAMES = {"0": 0, "1": 1, "neg": 0, "negative": 0, "pos": 1, "positive": 1}


class LabelledReviewsError(ValueError):
    """A labelled review set that cannot be read; the message names the file and the row."""


def read_labelled_reviews(path: str | Path) -> pd.DataFrame:
    """The reviews of ``path`` as columns ``id`` (int64), ``text`` (str), ``label`` (int64)."""
    path = Path(path).expanduser()
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise LabelledReviewsError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            table = pd.read_csv(path, dtype={"text": object}, keep_default_na=False)
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise LabelledReviewsError(f"{path}: not a readable CSV file ({error})") from error
        return _checked(table, path, first_line=2)
    if suffix == ".parquet":
        try:
            table = pd.read_parquet(path)
        except (OSError, ValueError) as error:
            raise LabelledReviewsError(f"{path}: not a readable parquet file ({error})") from error
        return _checked(table, path, first_line=None)
    if suffix == ".jsonl":
        return _checked(_read_jsonl(path), path, first_line=1)
    raise LabelledReviewsError(
        f"{path}: unknown format {suffix or '(no suffix)'}; use one of {', '.join(SUFFIXES)} "
        "or a folder with pos/ and neg/ subfolders of .txt files"
    )


def _where(path: Path, row: int, first_line: int | None) -> str:
    line = f" (line {row + first_line})" if first_line is not None else ""
    return f"{path}: row {row}{line}"


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise LabelledReviewsError(f"{path}: not UTF-8 text ({error})") from error
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelledReviewsError(f"{path}: line {number} is not JSON ({error})") from error
        if not isinstance(record, dict):
            raise LabelledReviewsError(
                f"{path}: line {number} is a JSON {type(record).__name__}, not an object with "
                "'text' and 'label'"
            )
        records.append(record)
    return pd.DataFrame.from_records(records)


def _read_folder(folder: Path) -> pd.DataFrame:
    missing = [name for name in FOLDERS if not (folder / name).is_dir()]
    if missing:
        raise LabelledReviewsError(
            f"{folder}: a folder of reviews needs pos/ and neg/ subfolders of .txt files; "
            f"{'/, '.join(missing)}/ missing"
        )
    texts, labels, files = [], [], []
    for name, label in FOLDERS.items():
        for file in sorted((folder / name).glob("*.txt")):
            try:
                texts.append(file.read_text(encoding="utf-8"))
            except UnicodeDecodeError as error:
                raise LabelledReviewsError(f"{file}: not UTF-8 text ({error})") from error
            labels.append(label)
            files.append(str(file))
    if not texts:
        raise LabelledReviewsError(f"{folder}: pos/ and neg/ hold no .txt files")
    table = pd.DataFrame({"text": pd.Series(texts, dtype=object), "label": labels})
    return _checked(table, folder, first_line=None, files=files)


def _labels(column: pd.Series, path: Path, first_line: int | None) -> np.ndarray:
    labels = np.empty(len(column), dtype=np.int64)
    for row, value in enumerate(column.tolist()):
        if isinstance(value, bool | np.bool_):
            key = None
        elif isinstance(value, int | np.integer) or (
            isinstance(value, float | np.floating) and float(value).is_integer()
        ):
            key = str(int(value))
        elif isinstance(value, str):
            key = value.strip().lower()
        else:
            key = None
        if key not in LABEL_NAMES:
            raise LabelledReviewsError(
                f"{_where(path, row, first_line)}: label {value!r} is not 0/1 or neg/pos"
            )
        labels[row] = LABEL_NAMES[key]
    return labels


def _checked(
    table: pd.DataFrame,
    path: Path,
    first_line: int | None,
    files: list[str] | None = None,
) -> pd.DataFrame:
    missing = [column for column in ("text", "label") if column not in table.columns]
    if missing:
        raise LabelledReviewsError(
            f"{path}: missing column(s) {missing}; a labelled review set needs 'text' and "
            f"'label' (it has {list(table.columns)})"
        )
    if table.empty:
        raise LabelledReviewsError(f"{path}: holds no reviews")
    for row, text in enumerate(table["text"].tolist()):
        if not isinstance(text, str) or not text.strip():
            where = files[row] if files else _where(path, row, first_line)
            if isinstance(text, str):
                problem = "is blank"
            elif text is None or (isinstance(text, float) and np.isnan(text)):
                problem = "is missing"
            else:
                problem = f"is {type(text).__name__}"
            raise LabelledReviewsError(f"{where}: the review text {problem}, not a review")
    labels = _labels(table["label"], path, first_line)
    ids = np.arange(len(table), dtype=np.int64)
    if "id" in table.columns:
        given = pd.to_numeric(table["id"], errors="coerce")
        if given.notna().all() and (given % 1 == 0).all() and given.is_unique:
            ids = given.to_numpy(dtype=np.int64)
    return pd.DataFrame(
        {"id": ids, "text": table["text"].astype(object).to_numpy(), "label": labels}
    )
