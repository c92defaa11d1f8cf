"""GloVe word vectors and where they come from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
