"""Project command line: Kedro's ``kedro run`` with ``--verbose`` and short expected failures.

Kedro 1.7's ``kedro run`` has no ``--verbose``: any exception leaves it as a full (rich)
traceback, 200 lines for "no trained model". Kedro lets a project override a command in
``<package>/cli.py`` (it also finds ``python -m imdb_sentiment``'s run command here), so this
``run`` is Kedro's own, with every option it has, plus ``--verbose``. An expected failure
(:mod:`imdb_sentiment.errors`: a missing model, an unreachable source, a bad parameter, an
unscorable file) ends in two lines, the last one its message; anything else, or any failure with
``--verbose``, keeps its full traceback.
"""

from __future__ import annotations

from typing import IO, Any

import click
from kedro.framework.cli.project import run as kedro_run

from imdb_sentiment.errors import is_expected, short_report


class ExpectedFailureExit(click.ClickException):
    """Shown as the short report of an expected failure; exit status 1."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error

    def show(self, file: IO[Any] | None = None) -> None:
        where, message = short_report(self.error).split("\n", 1)
        click.secho(where, file=file, err=file is None, dim=True)
        click.secho(message, file=file, err=file is None, fg="red", bold=True)


def _run(verbose: bool, **options: Any) -> Any:
    try:
        return kedro_run.callback(**options)
    except Exception as error:
        if verbose or not is_expected(error):
            raise
        raise ExpectedFailureExit(error) from error


@click.group(name="imdb-sentiment")
def cli() -> None:
    """Commands of the imdb-sentiment project."""


run = click.Command(
    name="run",
    callback=_run,
    params=[
        *kedro_run.params,
        click.Option(
            ["--verbose", "-v"],
            is_flag=True,
            help="Show the full traceback of an expected failure (missing model, bad "
            "parameter, unreachable source) instead of its message alone.",
        ),
    ],
    help=kedro_run.help,
    short_help=kedro_run.short_help,
)
cli.add_command(run)
