"""The served model: what it accepts as input, what it returns, how it travels (pickling)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import torch

from imdb_sentiment.models import build_model, model_checkpoint
from imdb_sentiment.models.cnn import CNNConfig
from imdb_sentiment.serving import SentimentModel, _texts_of
from imdb_sentiment.text import TokenizerConfig
from imdb_sentiment.vocabulary import Vocabulary

WORDS = ("good", "bad", "film", "dull")
VOCABULARY = Vocabulary(
    itos=("<pad>", "<unk>", *WORDS), tokenization=TokenizerConfig("blank:en", lowercase=True)
)


@pytest.fixture(scope="module")
def served() -> SentimentModel:
    torch.manual_seed(0)
    config = CNNConfig(filter_sizes=(2,), num_filters=3).for_data(
        vocab_size=len(VOCABULARY), embedding_dim=4, padding_idx=VOCABULARY.pad_index
    )
    checkpoint = {**model_checkpoint(build_model(config)), "max_length": 3}
    return SentimentModel(checkpoint=checkpoint, vocabulary=VOCABULARY, threshold=0.5)


@pytest.mark.parametrize(
    "model_input",
    [
        pd.DataFrame({"text": ["a", "b"], "other": [1, 2]}),
        pd.DataFrame({"review": ["a", "b"]}),  # a single column, whatever its name
        {"text": ["a", "b"]},
        pd.Series(["a", "b"]),
        np.array(["a", "b"], dtype=object),
        ["a", "b"],
        ("a", "b"),
    ],
)
def test_review_texts_come_from_every_usual_input(model_input) -> None:
    assert _texts_of(model_input) == ["a", "b"]


def test_a_single_string_is_one_review() -> None:
    assert _texts_of("just one") == ["just one"]


def test_inputs_that_are_not_review_texts_are_refused_naming_the_row() -> None:
    with pytest.raises(ValueError, match=r"expected a 'text' column, got columns \['a', 'b'\]"):
        _texts_of(pd.DataFrame({"a": ["x"], "b": ["y"]}))
    with pytest.raises(TypeError, match="review 1 is float, not text"):
        _texts_of(pd.DataFrame({"text": ["fine", None]}))
    with pytest.raises(TypeError, match="review 0 is list, not text"):
        _texts_of([["nested"]])
    with pytest.raises(TypeError, match="expected review texts, got int"):
        _texts_of(42)


def test_predict_returns_a_probability_and_a_label_per_review(served) -> None:
    scored = served.predict(None, pd.DataFrame({"text": ["Good film!", "DULL, bad.", "", "?"]}))
    assert list(scored.columns) == ["probability", "label"]
    assert len(scored) == 4
    assert scored["probability"].between(0, 1).all()
    assert scored["label"].tolist() == (scored["probability"] >= 0.5).astype(int).tolist()


def test_predict_tokenizes_as_the_vocabulary_and_cuts_as_training(served) -> None:
    # Lowercased like the vocabulary's tokens; cut after max_length (3) tokens, like training.
    same = served.predict(None, ["good film bad dull dull", "GOOD Film bad good good"])
    assert same["probability"].iloc[0] == pytest.approx(same["probability"].iloc[1], abs=1e-6)


def test_the_served_model_pickles_without_its_network(served) -> None:
    served.predict(None, ["good"])  # builds the network
    restored = pickle.loads(pickle.dumps(served))
    assert restored._network is None
    restored.load_context(None)
    expected = served.predict(None, ["good film", "bad"])
    pd.testing.assert_frame_equal(restored.predict(None, ["good film", "bad"]), expected)
