"""Ragged id sequences of reviews, in plain numpy so that training runs where only torch is."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from imdb_sentiment.atomic import atomic_write


@dataclass(frozen=True)
class EncodedReviews:
    """Reviews as vocabulary ids: review ``i`` is ``ids[offsets[i]:offsets[i + 1]]``."""

    ids: np.ndarray  # int32, all reviews concatenated
    offsets: np.ndarray  # int64, len(reviews) + 1, starts at 0
    labels: np.ndarray  # int8, 0 negative, 1 positive
    review_ids: np.ndarray  # int64, the review's id in its source split

    def __post_init__(self) -> None:
        n = len(self.labels)
        if len(self.offsets) != n + 1 or len(self.review_ids) != n:
            raise ValueError(
                f"EncodedReviews: {n} labels need {n + 1} offsets and {n} review ids, "
                f"got {len(self.offsets)} and {len(self.review_ids)}"
            )
        if n and (self.offsets[0] != 0 or self.offsets[-1] != len(self.ids)):
            raise ValueError("EncodedReviews: offsets must run from 0 to len(ids)")
        if n and np.any(np.diff(self.offsets) < 0):
            raise ValueError("EncodedReviews: offsets must not decrease")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per review."""
        return np.diff(self.offsets)

    def review(self, index: int) -> np.ndarray:
        """The ids of one review."""
        return self.ids[self.offsets[index] : self.offsets[index + 1]]

    @classmethod
    def from_lists(
        cls, sequences: list[list[int]] | list[np.ndarray], labels, review_ids=None
    ) -> EncodedReviews:
        """Build from one id list per review (small inputs, tests)."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        offsets = np.zeros(len(sequences) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        ids = (
            np.concatenate([np.asarray(s, dtype=np.int32) for s in sequences])
            if len(sequences)
            else np.zeros(0, dtype=np.int32)
        )
        if review_ids is None:
            review_ids = np.arange(len(sequences))
        return cls(
            ids=ids.astype(np.int32, copy=False),
            offsets=offsets,
            labels=np.asarray(labels, dtype=np.int8),
            review_ids=np.asarray(review_ids, dtype=np.int64),
        )

    @classmethod
    def concatenate(cls, parts: Iterable[EncodedReviews]) -> EncodedReviews:
        """Consecutive parts (e.g. a split encoded a batch at a time) as one whole, in memory."""
        parts = list(parts)
        return cls(
            ids=_joined([part.ids for part in parts], np.int32),
            **_per_review([(part.lengths, part.labels, part.review_ids) for part in parts]),
        )

    def save_npz(self, path: str | os.PathLike, compressed: bool = True) -> None:
        """Write whole or not at all: a temporary file beside ``path``, then an atomic rename."""
        save_npz_parts([self], path, compressed)

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> EncodedReviews:
        """Read what :meth:`save_npz` wrote; a missing array names the file."""
        with np.load(path, allow_pickle=False) as data:
            missing = {"ids", "offsets", "labels", "review_ids"} - set(data.files)
            if missing:
                raise ValueError(f"{path}: not an encoded-reviews file, missing {sorted(missing)}")
            return cls(
                ids=data["ids"],
                offsets=data["offsets"],
                labels=data["labels"],
                review_ids=data["review_ids"],
            )


def _joined(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    """``arrays`` end to end as ``dtype`` (empty for none)."""
    if not arrays:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.asarray(array, dtype=dtype) for array in arrays])


def _per_review(columns: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """The offsets, labels and review ids of consecutive parts, each given as its
    ``(lengths, labels, review_ids)``, as one whole."""
    lengths = _joined([column[0] for column in columns], np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return {
        "offsets": offsets,
        "labels": _joined([column[1] for column in columns], np.int8),
        "review_ids": _joined([column[2] for column in columns], np.int64),
    }


_COPY_BYTES = 16 * 1024 * 1024  # ids are copied into the archive this much at a time
# zlib level of compressed files: level 1 deflates IMDB's ids 7x faster than numpy's default
# (level 6) into 13% more bytes; np.load reads either.
DEFLATE_LEVEL = 1


def save_npz_parts(
    parts: Iterable[EncodedReviews], path: str | os.PathLike, compressed: bool = True
) -> None:
    """Write consecutive parts of one ``EncodedReviews`` as one ``.npz``, a part at a time.

    The file holds what ``np.savez`` (``np.savez_compressed``, at a faster zlib level) writes
    for the whole: the arrays ``ids``, ``offsets``, ``labels``, ``review_ids``. The ids go to a
    temporary file beside ``path`` as they come (a ``.npy`` header needs the length first);
    offsets, labels and review ids (a few bytes per review) are kept. Whole or not at all, as
    :func:`atomic_write`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    per_review = []  # the parts without their ids
    n_ids = 0
    id_dtype: np.dtype | None = None  # the first part's (int32 from encoding; uint16 copies)
    with tempfile.TemporaryFile(dir=path.parent, prefix=f".{path.name}.ids.") as ids_file:
        for part in parts:
            if id_dtype is None:
                id_dtype = np.dtype(part.ids.dtype if part.ids.dtype.kind in "iu" else np.int32)
            ids = np.ascontiguousarray(part.ids, dtype=id_dtype)
            ids_file.write(memoryview(ids).cast("B"))
            n_ids += len(ids)
            per_review.append((part.lengths, part.labels, part.review_ids))
        small = _per_review(per_review)
        method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
        with (
            atomic_write(path) as handle,
            zipfile.ZipFile(handle, "w", method, compresslevel=DEFLATE_LEVEL) as archive,
        ):
            with archive.open("ids.npy", "w", force_zip64=True) as entry:
                header = {"descr": np.lib.format.dtype_to_descr(id_dtype or np.dtype(np.int32))}
                np.lib.format.write_array_header_1_0(
                    entry, {**header, "fortran_order": False, "shape": (n_ids,)}
                )
                ids_file.seek(0)
                while block := ids_file.read(_COPY_BYTES):
                    entry.write(block)
            for name, array in small.items():
                with archive.open(f"{name}.npy", "w", force_zip64=True) as entry:
                    np.lib.format.write_array(entry, array, allow_pickle=False)
