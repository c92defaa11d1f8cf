"""The served model: an MLflow pyfunc that scores raw review text, and what it travels with.

Everything it needs travels inside it (weights, model settings, vocabulary, tokenizer settings),
its code in the logged model's ``code/`` folder and its pinned requirements beside it, so
``mlflow.pyfunc.load_model(uri).predict(pd.DataFrame({"text": [...]}))`` needs neither the
Kedro project nor this package installed. Batch prediction (the ``predict`` pipeline) scores
with the same methods: :meth:`SentimentModel.encode`, :meth:`~SentimentModel.logits`,
:meth:`~SentimentModel.probabilities`, :meth:`~SentimentModel.labels`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from imdb_sentiment.calibration import TEMPERATURE_KEY, sigmoid
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.text import BLANK_PREFIX, TokenizerConfig, tokenize_to_arrow
from imdb_sentiment.vocabulary import Vocabulary

TEXT_COLUMN = "text"
# Text in; the probability of positive and the label out (what `mlflow models serve` checks).
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("string", TEXT_COLUMN)]),
    outputs=Schema([ColSpec("double", "probability"), ColSpec("long", "label")]),
)
# What importing the served model's code needs (imdb_sentiment.serving and what it imports:
# vocabulary, text, calibration, models, inference), pinned to the versions it was logged with.
SERVING_PACKAGES = ("mlflow", "cloudpickle", "torch", "spacy", "numpy", "pandas", "pyarrow")
SERVING_BATCH_SIZE = 64  # reviews per forward pass on the CPU (benchmarks/README.md)


def unscorable_reason(value: Any) -> str | None:
    """Why ``value`` cannot be scored as a review (missing, not text, empty), or None."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "missing (null)"
    if not isinstance(value, str):
        return f"not text ({type(value).__name__})"
    if not value.strip():
        return "empty"
    return None


def unscorable_rows(values: Sequence[Any]) -> dict[int, str]:
    """Row (0-based) -> reason, for every value that cannot be scored."""
    reasons = {}
    for row, value in enumerate(values):
        reason = unscorable_reason(value)
        if reason is not None:
            reasons[row] = reason
    return reasons


def _values_of(model_input: Any) -> list[Any]:
    """The review values of a DataFrame's ``text`` column (or its only column), a mapping,
    records (one mapping per review), a Series, an array, a list or one string."""
    if isinstance(model_input, dict):
        # the column itself: a DataFrame of it would be Arrow strings (pandas 3), which cannot
        # hold a lone surrogate and fail without naming the row (the tokenizer names it)
        if TEXT_COLUMN not in model_input and len(model_input) != 1:
            raise MlflowException.invalid_parameter_value(
                f"expected a '{TEXT_COLUMN}' column, got columns {list(model_input)}"
            )
        model_input = model_input.get(TEXT_COLUMN, next(iter(model_input.values())))
        if isinstance(model_input, str):
            model_input = [model_input]
    if isinstance(model_input, pd.Series | np.ndarray | tuple):
        model_input = list(model_input)
    if isinstance(model_input, list) and model_input and isinstance(model_input[0], dict):
        # records, also as MLflow hands an input example to the model (an array of them)
        model_input = pd.DataFrame.from_records(model_input)
    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN in model_input.columns:
            return model_input[TEXT_COLUMN].tolist()
        if model_input.shape[1] == 1:
            return model_input.iloc[:, 0].tolist()
        raise MlflowException.invalid_parameter_value(
            f"expected a '{TEXT_COLUMN}' column, got columns {list(model_input.columns)}"
        )
    if isinstance(model_input, list):
        return model_input
    if isinstance(model_input, str):
        return [model_input]
    raise MlflowException.invalid_parameter_value(
        f"expected review texts, got {type(model_input).__name__}"
    )


def review_texts(model_input: Any) -> list[str]:
    """The review texts of a request; a missing, non-text or empty one is refused naming its
    row (0-based), as an MLflow error the scoring server answers with HTTP 400."""
    values = _values_of(model_input)
    bad = unscorable_rows(values)
    if bad:
        row, reason = next(iter(bad.items()))
        more = f" (and {len(bad) - 1} more rows)" if len(bad) > 1 else ""
        raise MlflowException.invalid_parameter_value(
            f"row {row}: the review is {reason}{more}; every row needs a non-empty "
            f"'{TEXT_COLUMN}' string"
        )
    return values


class SentimentModel(mlflow.pyfunc.PythonModel):
    """Raw reviews in (a ``text`` column, or a list of strings); probability and label out.

    ``threshold`` None: the caller decides labels (a local checkpoint in batch prediction,
    which labels at ``evaluate.threshold``); the served model always has one.
    """

    def __init__(
        self, checkpoint: dict, vocabulary: Vocabulary, threshold: float | None = 0.5
    ) -> None:
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
        from imdb_sentiment.models import load_model  # noqa: PLC0415 - torch only when scoring

        if self._network is None:
            self._network = load_model(self.checkpoint, vocab_size=len(self.vocabulary)).eval()

    @property
    def tokenizer(self) -> TokenizerConfig:
        return self.vocabulary.tokenization or TokenizerConfig()

    def encode(self, texts: Sequence[str], n_workers: int = 1) -> EncodedReviews:
        """Texts as vocabulary ids, tokenized as the training text was."""
        tokens = tokenize_to_arrow(texts, self.tokenizer, n_workers=n_workers)
        ids, offsets = self.vocabulary.encode(tokens)
        return EncodedReviews(
            ids=ids,
            offsets=offsets,
            labels=np.zeros(len(texts), dtype=np.int8),
            review_ids=np.arange(len(texts), dtype=np.int64),
        )

    def logits(
        self, encoded: EncodedReviews, batch_size: int = SERVING_BATCH_SIZE, device: str = "cpu"
    ) -> np.ndarray:
        """The network's logits (float32), reviews cut at the checkpoint's ``max_length``."""
        from imdb_sentiment.inference import model_logits  # noqa: PLC0415 - torch when scoring

        self._prepare()
        return model_logits(
            self._network,
            encoded,
            batch_size=batch_size,
            device=device,
            bf16=False,
            max_length=self.max_length,
        )

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of positive (float64), ``sigmoid(logit / temperature)``: the
        one place they are made, for the served model and batch prediction alike."""
        return sigmoid(np.asarray(logits, dtype=np.float64) / self.temperature)

    def labels(self, probabilities: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """1 (positive) where the probability is at least the threshold, else 0."""
        cut = self.threshold if threshold is None else threshold
        if cut is None:
            raise ValueError("SentimentModel.labels: no threshold (the model has none)")
        return (probabilities >= cut).astype(np.int64)

    def score(self, texts: Sequence[str]) -> pd.DataFrame:
        """Columns ``probability`` (of positive, calibrated) and ``label`` (1 positive, 0
        negative)."""
        probabilities = self.probabilities(self.logits(self.encode(texts)))
        return pd.DataFrame({"probability": probabilities, "label": self.labels(probabilities)})

    def predict(self, context, model_input, params=None) -> pd.DataFrame:  # noqa: ARG002
        """MLflow's entry point: :meth:`score` of the request's review texts."""
        return self.score(review_texts(model_input))


def package_directory() -> str:
    """This package's folder: the served model's ``code_paths``."""
    return str(Path(__file__).resolve().parent)


def _pinned(package: str) -> str:
    version = metadata.version(package).split("+", 1)[0]  # torch 2.13.0+cpu -> 2.13.0
    return f"{package}=={version}"


def pip_requirements(vocabulary: Vocabulary) -> list[str]:
    """The served model's requirements, pinned to the installed versions.

    ``torch`` is pinned without its local build label, so a CPU or a CUDA build of the same
    version both fit. An installed spaCy model (not ``blank:<lang>``) is added when the
    vocabulary's tokenizer came from one.
    """
    requirements = [_pinned(package) for package in SERVING_PACKAGES]
    spacy_model = (vocabulary.tokenization or TokenizerConfig()).spacy_model
    if not spacy_model.startswith(BLANK_PREFIX):
        requirements.append(_pinned(spacy_model.replace("_", "-")))
    return requirements
