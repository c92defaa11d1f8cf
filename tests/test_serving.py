"""The served model: what it accepts as input, what it returns, how it travels (pickling)."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from imdb_sentiment.calibration import sigmoid
from imdb_sentiment.inference import predict_probabilities
from imdb_sentiment.serving import SentimentModel, pip_requirements, review_texts, unscorable_rows
from tests.conftest import TINY_VOCABULARY, tiny_served_model

VOCABULARY = TINY_VOCABULARY


@pytest.fixture(scope="module")
def served() -> SentimentModel:
    return tiny_served_model()


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
    assert review_texts(model_input) == ["a", "b"]


def test_a_single_string_is_one_review() -> None:
    assert review_texts("just one") == ["just one"]


def test_records_as_mlflow_passes_an_input_example_are_reviews() -> None:
    assert review_texts([{"text": "a"}, {"text": "b"}]) == ["a", "b"]


@pytest.mark.parametrize(
    ("model_input", "message"),
    [
        (pd.DataFrame({"a": ["x"], "b": ["y"]}), r"expected a 'text' column, got columns"),
        (pd.DataFrame({"text": ["fine", None]}), r"row 1: the review is missing \(null\)"),
        (pd.DataFrame({"text": ["fine", float("nan")]}), r"row 1: the review is missing"),
        ([["nested"]], r"row 0: the review is not text \(list\)"),
        (["ok", 5, "  "], r"row 1: the review is not text \(int\) \(and 1 more rows\)"),
        (["ok", "\n "], r"row 1: the review is empty"),
        (42, "expected review texts, got int"),
    ],
)
def test_what_cannot_be_scored_is_an_invalid_parameter_naming_the_row(model_input, message):
    # INVALID_PARAMETER_VALUE: the scoring server answers HTTP 400 with this message
    with pytest.raises(MlflowException, match=message) as raised:
        review_texts(model_input)
    assert raised.value.get_http_status_code() == 400


def test_unscorable_rows_are_all_found_with_their_reason() -> None:
    values = ["good", None, 3.5, "", "fine", b"bytes"]
    assert unscorable_rows(values) == {
        1: "missing (null)",
        2: "not text (float)",
        3: "empty",
        5: "not text (bytes)",
    }


def test_requirements_pin_what_the_served_code_imports() -> None:
    requirements = pip_requirements(VOCABULARY)
    names = [requirement.split("==")[0] for requirement in requirements]
    assert names == ["mlflow", "cloudpickle", "torch", "spacy", "numpy", "pandas", "pyarrow"]
    assert all("==" in requirement and "+" not in requirement for requirement in requirements)
    assert "imdb-sentiment" not in " ".join(requirements)


def test_predict_returns_a_probability_and_a_label_per_review(served) -> None:
    scored = served.predict(None, pd.DataFrame({"text": ["Good film!", "DULL, bad.", "?"]}))
    assert list(scored.columns) == ["probability", "label"]
    assert len(scored) == 3
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


def test_probabilities_are_calibrated_by_the_checkpoints_temperature() -> None:
    texts = ["good film", "bad dull film", "GOOD good bad", "film"]
    plain, calibrated = tiny_served_model(), tiny_served_model(temperature=2.5)
    encoded = calibrated.encode(texts)
    logits = calibrated.logits(encoded)
    scored = calibrated.predict(None, texts)["probability"].to_numpy()
    np.testing.assert_allclose(scored, sigmoid(logits / 2.5))
    # the same weights, uncalibrated, are further from 0.5: the temperature flattens them
    uncalibrated = plain.predict(None, texts)["probability"].to_numpy()
    assert np.all(np.abs(scored - 0.5) < np.abs(uncalibrated - 0.5))
    # what evaluate computes for the same reviews (inference.predict_probabilities)
    evaluated = predict_probabilities(
        calibrated._network, encoded, temperature=2.5, device="cpu", max_length=3
    )
    np.testing.assert_allclose(scored, evaluated, atol=1e-6)
