"""Project commands: ``kedro run`` with ``--verbose`` and short expected failures, ``kedro seeds``.

Kedro 1.7's ``kedro run`` has no ``--verbose``: any exception leaves it as a full (rich)
traceback, 200 lines for "no trained model". Kedro lets a project override a command in
``<package>/cli.py`` (it also finds ``python -m imdb_sentiment``'s run command here), so this
``run`` is Kedro's own, with every option it has, plus ``--verbose``. An expected failure
(:mod:`imdb_sentiment.errors`: a missing model, an unreachable source, a bad parameter, an
unscorable file) ends in two lines, the last one its message; anything else, or any failure with
``--verbose``, keeps its full traceback.

``kedro seeds --count 3`` trains one configuration with several training seeds, each as an
ordinary Kedro run (same hooks, parameter checks, MLflow run), and summarises them. It is a
Kedro command rather than a script so that ``--env`` and ``--params`` mean exactly what they mean
for ``kedro run`` (Kedro's own parsing, the same configuration loader and merge).
"""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import click
import mlflow
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.cli.utils import _split_params, env_option, split_string
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from imdb_sentiment.errors import is_expected, short_report
from imdb_sentiment.seeds import seed_record, summarise_seeds, write_summary

SEED_GROUP_TAG = "seed_group"
TRAINING_PIPELINES = ["training", "evaluate"]


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


def _with_seed(params: dict[str, Any], seed: int) -> dict[str, Any]:
    runtime = copy.deepcopy(params)
    runtime.setdefault("training", {})["seed"] = seed
    return runtime


def _tag_last_run(group: str, seed: int) -> str | None:
    """Tag the run the last session logged (finished or failed) with the group and seed."""
    run = mlflow.last_active_run()
    if run is None:
        return None
    client = mlflow.MlflowClient()
    client.set_tag(run.info.run_id, SEED_GROUP_TAG, group)
    client.set_tag(run.info.run_id, "seed", str(seed))
    return run.info.run_id


@cli.command()
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Seeds to run: the configured training.seed and the next ones.",
)
@click.option(
    "--seeds",
    "seed_list",
    callback=split_string,
    default="",
    help="Explicit training seeds, comma-separated (instead of --count).",
)
@env_option
@click.option(
    "--params",
    type=click.UNPROCESSED,
    default="",
    callback=_split_params,
    help="As for `kedro run`: key=value pairs, comma-separated.",
)
@click.option(
    "--reuse-data",
    is_flag=True,
    help="Skip the first full run: train and evaluate on the stored splits, features "
    "and baselines.",
)
@click.option(
    "--output",
    default="data/08_reporting/seeds_summary",
    show_default=True,
    help="Where the summary goes (.json and .md are added).",
)
def seeds(  # noqa: PLR0917 - click passes every option
    count: int,
    seed_list: list[str],
    env: str | None,
    params: dict[str, Any],
    reuse_data: bool,
    output: str,
) -> None:
    """Train one configuration with several training seeds and report mean ± sd.

    Only training.seed varies: the split, the features and the baselines are the same in every
    run. The first run is the whole DAG (unless --reuse-data), the others the training and
    evaluate pipelines. Each run is an MLflow run tagged seed_group=<one id for all>.
    """
    project = Path.cwd()
    bootstrap_project(project)
    if (training := params.get("training")) and "seed" in training:
        raise click.UsageError("training.seed is what `kedro seeds` varies: use --seeds")
    with KedroSession.create(project_path=project, env=env, runtime_params=params) as session:
        first = int(session.load_context().params["training"]["seed"])  # parameters checked
    chosen = [int(seed) for seed in seed_list] if seed_list else list(range(first, first + count))
    group = datetime.now().strftime("seeds-%Y%m%d-%H%M%S")
    click.echo(f"kedro seeds: training seeds {chosen}, MLflow tag {SEED_GROUP_TAG}={group}")
    records = []
    for index, seed in enumerate(chosen):
        pipelines = None if index == 0 and not reuse_data else TRAINING_PIPELINES
        runtime = _with_seed(params, seed)
        with KedroSession.create(project_path=project, env=env, runtime_params=runtime) as session:
            try:
                session.run(pipeline_names=pipelines)
            finally:
                run_id = _tag_last_run(group, seed)
            catalog = session.load_context().catalog
            records.append(
                seed_record(
                    seed,
                    run_id,
                    catalog.load("test_metrics"),
                    catalog.load("model_comparison"),
                    catalog.load("training_summary"),
                )
            )
        summary = summarise_seeds(records, group)
        paths = write_summary(summary, project / output)  # after every seed: nothing is lost
        accuracy = records[-1]["test_accuracy"]
        click.echo(f"kedro seeds: seed {seed} done, test accuracy {accuracy:.4f}")
    click.echo(f"kedro seeds: summary in {', '.join(str(path) for path in paths)}")
    click.echo(paths[1].read_text(encoding="utf-8"))
