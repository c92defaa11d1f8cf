"""A read-only Kedro dataset: an optional labelled review set (the extra test set)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.labelled_reviews import LabelledReviewsError, read_labelled_reviews

NO_SOURCE = ("", "none", "null")


class LabelledReviewsDataset(AbstractDataset[None, pd.DataFrame]):
    """The reviews of ``source`` (see :mod:`imdb_sentiment.labelled_reviews`) as ``id``,
    ``text``, ``label``; with no source (empty, ``none`` or ``null``), an empty table: the
    nodes reading it then report that there is no extra test set."""

    def __init__(self, source: str | None = None, metadata: dict[str, Any] | None = None):
        self._source = (
            None if source is None or str(source).strip().lower() in NO_SOURCE else str(source)
        )
        self.metadata = metadata

    def load(self) -> pd.DataFrame:
        if self._source is None:
            return pd.DataFrame(
                {
                    "id": pd.Series(dtype="int64"),
                    "text": pd.Series(dtype=object),
                    "label": pd.Series(dtype="int64"),
                }
            )
        try:
            reviews = read_labelled_reviews(self._source)
        except LabelledReviewsError as error:
            raise DatasetError(f"extra test set: {error}") from error
        reviews.attrs["source"] = self._source
        return reviews

    def save(self, data: None) -> None:
        raise DatasetError("LabelledReviewsDataset is read-only")

    def _describe(self) -> dict[str, Any]:
        return {"source": self._source}
