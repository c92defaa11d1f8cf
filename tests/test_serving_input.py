"""What the served model accepts as input, and the row it names when a text is not Unicode."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from imdb_sentiment.serving import review_texts
from imdb_sentiment.text import tokenize_to_arrow

TEXTS = ["A fine film.", "bad \ud800 film"]  # a lone surrogate: no UTF-8 encoding exists


@pytest.mark.parametrize(
    "model_input",
    [
        TEXTS,
        {"text": TEXTS},
        {"review": TEXTS},  # a single column, whatever its name
        pd.DataFrame({"text": pd.Series(TEXTS, dtype=object)}),
    ],
)
def test_a_lone_surrogate_in_serving_input_names_its_row(model_input) -> None:
    texts = review_texts(model_input)
    assert texts == TEXTS
    with pytest.raises(ValueError, match=r"the text at row 1 is not valid Unicode"):
        tokenize_to_arrow(texts)


def test_a_mapping_without_a_text_column_is_refused() -> None:
    with pytest.raises(
        MlflowException, match=r"expected a 'text' column, got columns \['a', 'b'\]"
    ):
        review_texts({"a": ["x"], "b": ["y"]})


@pytest.mark.parametrize(
    "model_input",
    [
        [{"text": "A fine film."}, {"text": "Dull."}],  # records, as the input example is
        np.array([{"text": "A fine film."}, {"text": "Dull."}], dtype=object),
        pd.Series(["A fine film.", "Dull."]),
        ("A fine film.", "Dull."),
        np.array(["A fine film.", "Dull."]),
    ],
)
def test_records_series_tuples_and_arrays_give_the_texts(model_input) -> None:
    assert list(review_texts(model_input)) == ["A fine film.", "Dull."]
