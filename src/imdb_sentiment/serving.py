"""The served model: an MLflow pyfunc that scores raw review text.

Everything it needs travels inside it (weights, model settings, vocabulary, tokenizer settings),
so ``mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": [...]}))`` needs no Kedro project.
"""

from __future__ import annotations

from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd

from imdb_sentiment.calibration import TEMPERATURE_KEY
from imdb_sentiment.vocabulary import Vocabulary


class SentimentModel(mlflow.pyfunc.PythonModel):
    """Raw reviews in (a ``text`` column, or a list of strings); probability and label out."""

    def __init__(self, checkpoint: dict, vocabulary: Vocabulary, threshold: float = 0.5) -> None:
        self.checkpoint = checkpoint
        # tokens made exactly as the vocabulary's were, reviews cut as in training
        self.vocabulary = vocabulary
        self.max_length = checkpoint.get("max_length")
        # fitted on the validation split after training: the probabilities served are calibrated
        self.temperature = float(checkpoint.get(TEMPERATURE_KEY, 1.0))
        self.threshold = threshold
        self._network = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_network"] = None
        return state

    def load_context(self, context) -> None:  # noqa: ARG002 - MLflow's signature
        self._prepare()

    def _prepare(self) -> None:
        from imdb_sentiment.models import load_model  # noqa: PLC0415 - torch only when serving

        if self._network is None:
            self._network = load_model(self.checkpoint, vocab_size=len(self.vocabulary)).eval()

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ARG002
        """Columns ``probability`` (of positive, calibrated) and ``label`` (1 positive, 0
        negative)."""
        from imdb_sentiment.inference import predict_probabilities  # noqa: PLC0415
        from imdb_sentiment.sequences import EncodedReviews  # noqa: PLC0415
        from imdb_sentiment.text import TokenizerConfig, tokenize_to_arrow  # noqa: PLC0415

        texts = _texts_of(model_input)
        self._prepare()
        tokens = tokenize_to_arrow(texts, self.vocabulary.tokenization or TokenizerConfig())
        ids, offsets = self.vocabulary.encode(tokens)
        encoded = EncodedReviews(
            ids=ids,
            offsets=offsets,
            labels=np.zeros(len(texts), dtype=np.int8),
            review_ids=np.arange(len(texts), dtype=np.int64),
        )
        probabilities = predict_probabilities(
            self._network,
            encoded,
            device="cpu",
            max_length=self.max_length,
            temperature=self.temperature,
        )
        return pd.DataFrame(
            {
                "probability": probabilities.astype(float),
                "label": (probabilities >= self.threshold).astype(int),
            }
        )


def _texts_of(model_input: Any) -> list[str]:
    """The review texts of a DataFrame's ``text`` column (or its only column), or a list."""
    if isinstance(model_input, dict):
        # the column itself: a DataFrame of it would be Arrow strings (pandas 3), which cannot
        # hold a lone surrogate and fail without naming the row (the tokenizer names it)
        if "text" not in model_input and len(model_input) != 1:
            raise ValueError(f"expected a 'text' column, got columns {list(model_input)}")
        model_input = model_input.get("text", next(iter(model_input.values())))
        if isinstance(model_input, str):
            model_input = [model_input]
    if isinstance(model_input, pd.DataFrame):
        if "text" in model_input.columns:
            column = model_input["text"]
        elif model_input.shape[1] == 1:
            column = model_input.iloc[:, 0]
        else:
            raise ValueError(f"expected a 'text' column, got columns {list(model_input.columns)}")
        texts = column.tolist()
    elif isinstance(model_input, pd.Series | np.ndarray | list | tuple):
        texts = list(model_input)
    elif isinstance(model_input, str):
        texts = [model_input]
    else:
        raise TypeError(f"expected review texts, got {type(model_input).__name__}")
    for row, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"review {row} is {type(text).__name__}, not text")
    return texts
