"""The model batch prediction scores with: a registered served model, or the local checkpoint."""

from __future__ import annotations

from typing import Any

from kedro.io import AbstractDataset, DatasetError, Version

from imdb_sentiment.datasets.torch_checkpoint import TorchCheckpointDataset
from imdb_sentiment.datasets.vocabulary import VocabularyDataset
from imdb_sentiment.serving import SentimentModel
from imdb_sentiment.vocabulary import VocabularyMismatchError, check_model_vocabulary


class ScoringModelDataset(AbstractDataset[None, SentimentModel]):
    """Load-only: a :class:`~imdb_sentiment.serving.SentimentModel` to score with.

    ``model_uri`` set (``models:/imdb-sentiment@champion``, any ``models:/`` or ``runs:/``
    URI): that served model, with its own vocabulary, tokenizer settings and threshold. Else
    the latest local checkpoint (``checkpoint``: the ``model_checkpoint`` entry's arguments) with
    the local vocabulary (``vocabulary``: the ``vocabulary`` entry's), without a threshold: the
    caller labels at ``evaluate.threshold``, as the training pipeline packages the served model.
    """

    def __init__(
        self,
        checkpoint: dict[str, Any],
        vocabulary: dict[str, Any],
        model_uri: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self._checkpoint = dict(checkpoint)
        self._vocabulary = dict(vocabulary)
        self._model_uri = model_uri
        self.metadata = metadata

    def load(self) -> SentimentModel:
        if self._model_uri:
            from imdb_sentiment.registry import load_served_model  # noqa: PLC0415 - MLflow

            return load_served_model(self._model_uri)
        checkpoint = TorchCheckpointDataset(**self._checkpoint, version=Version(None, None)).load()
        vocabulary = VocabularyDataset(**self._vocabulary).load()
        try:
            check_model_vocabulary(checkpoint, vocabulary)
        except VocabularyMismatchError as error:
            raise DatasetError(str(error)) from error
        return SentimentModel(checkpoint=checkpoint, vocabulary=vocabulary, threshold=None)

    def save(self, data: SentimentModel) -> None:
        raise DatasetError("ScoringModelDataset is read-only: models are trained by `kedro run`")

    def _describe(self) -> dict[str, Any]:
        return {
            "model_uri": self._model_uri,
            "checkpoint": self._checkpoint,
            "vocabulary": self._vocabulary,
        }
