"""`kedro run` as typed: expected failures end in their message, a bar in a pseudo-terminal,
and a log free of warnings from this project and of the silenced third-party noise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.kedro_runs import FAST_TRAINING, command_in, kedro_cli, plain

pytestmark = pytest.mark.slow

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "imdb_sentiment"
NOISE = (
    "register_new_resolver",
    "Add type hints to the `predict` method",
    "CloudPickle",
    "'tracking_uri' key in mlflow.yml is relative",
    "No typed parameter requirements found",
)
RECORD = re.compile(r"^(?:\[[^\]]*\])?\s*(DEBUG|INFO|WARNING|ERROR|CRITICAL)\s+(.*?)\s*$")


def last_line(output: str) -> str:
    return [line for line in plain(output).splitlines() if line.strip()][-1].strip()


@pytest.mark.parametrize(
    ("arguments", "env", "message"),
    [
        (
            ["--pipelines=evaluate"],
            {},
            r"^DatasetError: model_checkpoint: No trained model at .*: run `kedro run` to train",
        ),
        (
            ["--params=training.epocs=3"],
            {},
            r"^SettingsError: training.epocs: unknown setting \(did you mean epochs\?",
        ),
        (
            ["--pipelines=predict", "--params=predict_source=/no/such/reviews.csv"],
            {},
            r"^DatasetError: reviews_to_score: predict_source /no/such/reviews.csv does not exist",
        ),
        (
            ["--params=imdb_source=hf://stanfordnlp/imdb"],
            {"HF_HUB_OFFLINE": "1"},
            r"^DatasetError: imdb_raw: Could not load IMDB source 'hf://stanfordnlp/imdb'",
        ),
    ],
    ids=["no model", "bad parameter", "bad predict_source", "unreachable source"],
)
def test_an_expected_failure_ends_in_its_message(project_copy, arguments, env, message) -> None:
    done = kedro_cli(project_copy, "run", *arguments, env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert re.search(message, last_line(done.stderr)), output[-3000:]
    assert "Traceback" not in output
    assert "--verbose shows the traceback" in done.stderr


def test_verbose_shows_the_traceback(project_copy) -> None:
    done = kedro_cli(project_copy, "run", "--pipelines=evaluate", "--verbose")
    output = plain(done.stdout + done.stderr)
    assert done.returncode == 1
    assert "Traceback" in output
    assert "No trained model" in output


def _records(log: str) -> list[tuple[str, str]]:
    """(level, rest of the line) of every log record's first line."""
    return [match.groups() for match in map(RECORD.match, log.splitlines()) if match]


@pytest.mark.skipif(shutil.which("script") is None, reason="needs script(1) for a pty")
def test_a_run_in_a_terminal_shows_a_bar_and_no_warnings_of_ours(project_copy: Path) -> None:
    params = ",".join(f"{k}={v}" for k, v in {**FAST_TRAINING, "training.progress": True}.items())
    # script(1) gives the command a pseudo-terminal of 0x0, as in the issue
    done = command_in(project_copy, ["script", "-qec", f"kedro run --params={params}", "/dev/null"])
    log = plain(done.stdout)
    assert done.returncode == 0, log[-3000:]
    assert "Pipeline execution completed successfully" in log, log[-3000:]
    assert re.search(r"epoch 1/2:\s+\d+%\|", log), "no progress bar in the terminal"
    for noise in NOISE:
        assert noise not in log
    ours = {path.name for path in PACKAGE.rglob("*.py")} - {"__init__.py"}
    warnings = [(level, text) for level, text in _records(log) if level != "INFO"]
    from_us = [
        text
        for _, text in warnings
        if "imdb_sentiment" in text or text.rsplit(" ", 1)[-1].split(":")[0] in ours
    ]
    assert not from_us, "\n".join(from_us)
    assert not warnings, f"other warnings in a default run: {warnings}"
