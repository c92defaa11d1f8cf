"""Expected failures: errors whose message alone tells the user what to do.

A missing model, an unreachable data source, a bad parameter or an unreadable file to score are
not bugs: the command line shows their message as its last line, without a traceback
(``kedro run --verbose`` shows it). Everything else keeps its full traceback. Standard library
only, so the torch-only modules can mark their errors too.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator

PACKAGE = __name__.split(".", 1)[0]  # imdb_sentiment
# Kedro's own wording when it wraps an unexpected exception raised inside a dataset: such a
# DatasetError hides a bug (or an environment problem) and keeps its traceback.
_KEDRO_WRAPPER_PREFIXES = ("Failed while loading data from", "Failed while saving data to")


class ExpectedFailure(Exception):  # noqa: N818 - a marker mixed into errors, not raised alone
    """Mixed into an error class whose message names the problem and how to fix it."""


def exception_chain(
    error: BaseException, follow_suppressed: bool = False
) -> Iterator[BaseException]:
    """``error`` and what caused it (``raise ... from``, or the error being handled when it was
    raised), outermost first. A context hidden by ``raise ... from None`` is left out unless
    ``follow_suppressed`` (looking for a cause whatever the message shows)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        hidden = current.__suppress_context__ and not follow_suppressed
        current = current.__cause__ or (None if hidden else current.__context__)


def _is_dataset_refusal(error: BaseException) -> bool:
    """A Kedro ``DatasetError`` a dataset raised itself, with its own message (not a wrapper)."""
    names = {cls.__name__ for cls in type(error).__mro__}
    if "DatasetError" not in names:
        return False
    message = str(error)
    inner = message.split(": ", 1)[-1]  # the catalog prefixes the dataset's name
    return not any(p in message or inner.startswith(p) for p in _KEDRO_WRAPPER_PREFIXES)


def is_expected(error: BaseException) -> bool:
    """Whether ``error`` is an expected failure, looking through its causes.

    Expected: an :class:`ExpectedFailure` (a bad setting, an unscorable source, training that
    stopped early) or a dataset's own refusal with its message (``DatasetError``: no trained
    model, an unreachable source, a corrupt input) anywhere in the chain.
    """
    return any(
        isinstance(e, ExpectedFailure) or _is_dataset_refusal(e) for e in exception_chain(error)
    )


def _raised_at(error: BaseException) -> str:
    """``file:line`` where the innermost error was raised, preferring this project's code
    (where its message was written) over the library frames below it."""
    frames = [
        frame
        for e in exception_chain(error)
        for frame in traceback.extract_tb(e.__traceback__)[-1:]
        if e.__traceback__ is not None
    ]
    ours = [frame for frame in frames if f"{PACKAGE}/" in frame.filename.replace("\\", "/")]
    frame = (ours or frames or [None])[-1]
    return "?" if frame is None else f"{frame.filename}:{frame.lineno}"


def short_report(error: BaseException) -> str:
    """Two lines: where it was raised, then ``Type: message`` (the message last, on one line)."""
    message = " ".join(str(error).split()) or type(error).__name__
    return (
        f"(raised at {_raised_at(error)}; --verbose shows the traceback)\n"
        f"{type(error).__name__}: {message}"
    )
