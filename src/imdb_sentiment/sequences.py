"""Ragged id sequences of reviews, in plain numpy so that training runs where only torch is."""

from __future__ import annotations

import os
from dataclasses import dataclass

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

    def save_npz(self, path: str | os.PathLike, compressed: bool = True) -> None:
        """Write whole or not at all: a temporary file beside ``path``, then an atomic rename."""
        writer = np.savez_compressed if compressed else np.savez
        with atomic_write(path) as handle:
            writer(
                handle,
                ids=self.ids,
                offsets=self.offsets,
                labels=self.labels,
                review_ids=self.review_ids,
            )

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
