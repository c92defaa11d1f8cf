"""Third-party noise is dropped by message; anything else from the same loggers still shows."""

from __future__ import annotations

import logging
import warnings

import pytest

from imdb_sentiment.third_party_noise import LOG_LINES, DropMessages, silence_third_party_noise


@pytest.fixture
def records() -> list[logging.LogRecord]:
    seen: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    handler = Keep()
    for name in LOG_LINES:
        logging.getLogger(name).addHandler(handler)
    yield seen
    for name in LOG_LINES:
        logging.getLogger(name).removeHandler(handler)


def test_the_named_log_lines_are_dropped_and_others_kept(records) -> None:
    silence_third_party_noise()
    silence_third_party_noise()  # idempotent: one filter per logger
    pyfunc = logging.getLogger("mlflow.pyfunc")
    assert sum(isinstance(f, DropMessages) for f in pyfunc.filters) == 1
    pyfunc.warning(
        "Passing a Python object as `python_model` causes it to be serialized using CloudPickle"
    )
    pyfunc.warning("Something else about a model")
    logging.getLogger("py.warnings").warning(
        "/x/data_validation.py:187: UserWarning: \x1b[33mAdd type hints to the `predict` method"
    )
    logging.getLogger("py.warnings").warning("/x/y.py:1: UserWarning: a real problem")
    assert [r.getMessage() for r in records] == [
        "Something else about a model",
        "/x/y.py:1: UserWarning: a real problem",
    ]


def test_the_omegaconf_deprecation_is_ignored_and_other_warnings_are_not() -> None:
    silence_third_party_noise()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        silence_third_party_noise()  # inside the block: its filters come first again
        warnings.warn(
            "register_new_resolver() is deprecated and will be removed", UserWarning, stacklevel=1
        )
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert [str(w.message) for w in caught] == ["something else"]
