"""Expected failures are told from bugs, and reported in two lines with the message last."""

from __future__ import annotations

import pytest
from kedro.io import DatasetError

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.errors import ExpectedFailure, exception_chain, is_expected, short_report


def raised(make) -> BaseException:
    """The exception ``make`` raises, with its traceback and causes, as Kedro would hand it."""
    try:
        make()
    except BaseException as error:  # noqa: BLE001 - the test inspects whatever it is
        return error
    raise AssertionError("nothing was raised")


def catalog_load(error: BaseException) -> None:
    """What Kedro's catalog does around a dataset's load: prefix the dataset's name."""
    try:
        raise error
    except DatasetError as inner:
        raise DatasetError(f"model_checkpoint: {inner}") from inner


def kedro_wrapper(error: BaseException) -> None:
    """What Kedro's AbstractDataset does with an exception that is not a DatasetError."""
    try:
        raise error
    except Exception as inner:
        raise DatasetError(f"Failed while loading data from dataset X().\n{inner}") from inner


class Refused(ValueError, ExpectedFailure):
    pass


@pytest.mark.parametrize(
    "make",
    [
        lambda: (_ for _ in ()).throw(SettingsError("training.epocs", "unknown setting")),
        lambda: catalog_load(DatasetError("No trained model at data/06_models: run `kedro run`")),
        lambda: (_ for _ in ()).throw(Refused("nothing to score")),
    ],
)
def test_refusals_with_a_message_are_expected(make) -> None:
    assert is_expected(raised(make))


@pytest.mark.parametrize(
    "make",
    [
        lambda: {}["missing"],
        lambda: catalog_load(raised(lambda: kedro_wrapper(KeyError("bug in a dataset")))),
        lambda: 1 / 0,
    ],
)
def test_bugs_are_not_expected(make) -> None:
    assert not is_expected(raised(make))


def test_an_expected_failure_under_a_wrapper_is_expected() -> None:
    error = raised(lambda: catalog_load(raised(lambda: kedro_wrapper(Refused("no rows")))))
    assert is_expected(error)


def test_the_report_is_two_lines_the_message_last_and_on_one_line() -> None:
    error = raised(lambda: catalog_load(DatasetError("No trained model\n  at data/06_models")))
    where, message = short_report(error).split("\n")
    assert message == "DatasetError: model_checkpoint: No trained model at data/06_models"
    assert "tests/test_errors.py" in where
    assert "--verbose" in where


def test_the_chain_leaves_out_a_suppressed_context_unless_asked() -> None:
    def raised() -> BaseException:
        try:
            try:
                raise OSError("disk I/O error")
            except OSError:
                raise RuntimeError("store failed") from None
        except RuntimeError as error:
            return error

    error = raised()
    assert [type(e) for e in exception_chain(error)] == [RuntimeError]
    assert [type(e) for e in exception_chain(error, follow_suppressed=True)] == [
        RuntimeError,
        OSError,
    ]
