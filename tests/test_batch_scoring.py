"""Batch prediction: unscorable rows set aside with their reason, the rest scored exactly as
the served model scores them, whether tokenized in-process or in forked workers."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from imdb_sentiment.batch_scoring import PredictSourceError, score_table
from imdb_sentiment.parameters import PredictSettings
from imdb_sentiment.pipelines.predict.nodes import predict_reviews
from tests.conftest import tiny_served_model

WORDS = ["good film", "bad dull film", "GOOD good bad", "film", "dull dull good film bad"]
SETTINGS = PredictSettings(chunk_size=2, n_workers=0, progress=False, batch_size=2)


def table(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame.attrs["source"] = "reviews.csv"
    return frame


def test_rows_that_cannot_be_scored_are_left_out_and_listed(caplog) -> None:
    reviews = table(
        id=[10, 11, 12, 13, 14, 15],
        text=["good film", None, "", 7, "   ", "bad film"],
    )
    with caplog.at_level(logging.WARNING):
        scored = score_table(reviews, tiny_served_model(), SETTINGS, threshold=None)
    assert scored.predictions["id"].tolist() == [10, 15]
    assert scored.predictions["text"].tolist() == ["good film", "bad film"]
    assert scored.rejects.to_dict("list") == {
        "row": [1, 2, 3, 4],
        "id": [11, 12, 13, 14],
        "reason": ["missing (null)", "empty", "not text (int)", "empty"],
    }
    assert "4 of 6 rows of reviews.csv cannot be scored" in caplog.text
    assert "row 1 (id 11): missing (null)" in caplog.text
    assert scored.summary["rows"] == 6
    assert scored.summary["scored"] == 2
    assert scored.summary["rejected"] == 4


def test_probabilities_are_the_served_models_in_process_or_forked() -> None:
    model = tiny_served_model(temperature=2.5)  # calibrated, as every trained model is
    served = model.predict(None, pd.DataFrame({"text": WORDS}))
    for workers in (0, 1, 2):
        settings = PredictSettings(chunk_size=2, n_workers=workers, progress=False, batch_size=2)
        scored = score_table(table(text=WORDS), model, settings, threshold=None)
        np.testing.assert_allclose(scored.predictions["probability"], served["probability"])
        assert scored.predictions["label"].tolist() == served["label"].tolist()


def test_without_an_id_column_the_row_number_is_the_id() -> None:
    scored = score_table(table(text=["", *WORDS[:2]]), tiny_served_model(), SETTINGS, None)
    assert scored.predictions["id"].tolist() == [1, 2]
    assert scored.rejects["id"].tolist() == [0]


def test_a_checkpoint_without_a_threshold_labels_at_the_given_one() -> None:
    model = tiny_served_model(threshold=None)
    low = score_table(table(text=WORDS), model, SETTINGS, threshold=0.0)
    high = score_table(table(text=WORDS), model, SETTINGS, threshold=1.0)
    assert low.predictions["label"].tolist() == [1] * len(WORDS)
    assert high.predictions["label"].tolist() == [0] * len(WORDS)
    assert low.summary["threshold"] == 0.0


def test_a_registered_model_labels_at_its_own_threshold() -> None:
    scored = score_table(table(text=WORDS), tiny_served_model(threshold=0.0), SETTINGS, 1.0)
    assert scored.predictions["label"].tolist() == [1] * len(WORDS)


@pytest.mark.parametrize(
    ("reviews", "message"),
    [
        (table(review=["good"]), r"reviews.csv has no 'text' column \(columns: review\)"),
        (table(text=[]), "reviews.csv holds no reviews"),
        (table(text=[None, ""]), r"none of the 2 rows of reviews.csv can be scored: row 0"),
    ],
)
def test_a_source_with_nothing_to_score_is_refused(reviews, message) -> None:
    with pytest.raises(PredictSourceError, match=message):
        score_table(reviews, tiny_served_model(), SETTINGS, threshold=0.5)


def test_the_node_reads_its_settings_and_names_a_typo() -> None:
    predictions, rejects, summary = predict_reviews(
        table(text=WORDS), tiny_served_model(), {"progress": False, "n_workers": 0}, 0.5
    )
    assert list(predictions.columns) == ["id", "text", "probability", "label"]
    assert rejects.empty and list(rejects.columns) == ["row", "id", "reason"]
    assert summary["trained_in_run_id"] is None
    with pytest.raises(ValueError, match="predict.chunk: unknown setting"):
        predict_reviews(table(text=WORDS), tiny_served_model(), {"chunk": 3}, 0.5)
