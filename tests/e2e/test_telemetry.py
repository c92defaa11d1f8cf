"""No usage telemetry: a `kedro run` neither writes MLflow's telemetry file nor looks up a host.

Both runs below log a model (an event MLflow reports) from an environment without any opt-out
(no MLFLOW_DISABLE_TELEMETRY, DO_NOT_TRACK, CI or pytest markers, which MLflow would honour on
its own) and with HOME in a temporary folder. An audit hook records every name lookup and
connection of the process. The control opts in explicitly and shows what the project prevents.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fault.harness import copy_tree

pytestmark = pytest.mark.slow

AUDITED = textwrap.dedent(
    """
    import atexit, json, sys
    seen, out = [], sys.argv[1]
    def audit(event, args):
        if event == "socket.getaddrinfo":
            seen.append(f"lookup {args[0]}")
        elif event == "socket.connect" and isinstance(args[1], tuple):
            seen.append(f"connect {args[1][0]}")
    sys.addaudithook(audit)
    atexit.register(lambda: open(out, "w").write(json.dumps(seen)))
    """
)
# a run that logs a model: an event MLflow's telemetry reports (LogModelEvent)
RUN = textwrap.dedent(
    """
    sys.argv = ["kedro", "run", "--nodes=package_serving_model"]
    from kedro.framework.cli import main
    main()
    """
)
# what MLflow 3.17 honours as an opt-out on its own (mlflow/telemetry/utils.py): removed
OPT_OUTS = (
    "MLFLOW_DISABLE_TELEMETRY",
    "DO_NOT_TRACK",
    "PYTEST_CURRENT_TEST",
    "CI",
    "GITHUB_ACTIONS",
    "CIRCLECI",
    "GITLAB_CI",
    "JENKINS_URL",
    "TRAVIS",
    "TF_BUILD",
    "BITBUCKET_BUILD_NUMBER",
    "CODEBUILD_BUILD_ARN",
    "BUILDKITE",
    "TEAMCITY_VERSION",
    "CLOUD_RUN_EXECUTION",
    "XDG_CONFIG_HOME",
)
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def audited_run(cwd: Path, home: Path, **extra: str) -> tuple[list[str], str]:
    """`kedro run` in a fresh interpreter: the hosts it looked up or connected to, its output."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in OPT_OUTS and not key.startswith("RUNBOT_")
    }
    env.update(HOME=str(home), **extra)
    home.mkdir()
    seen_file = home / "seen.json"
    result = subprocess.run(
        [sys.executable, "-c", AUDITED + RUN, str(seen_file)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return [e for e in json.loads(seen_file.read_text()) if e.split(" ", 1)[1] not in LOOPBACK]


@pytest.fixture
def project(trained_project: Path, tmp_path: Path) -> Path:
    """A copy of the trained project (this test adds runs to it)."""
    return copy_tree(trained_project, tmp_path / "project")


def test_a_run_sends_no_telemetry(project: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert audited_run(project, home) == []
    assert not (home / ".config" / "mlflow" / "telemetry.json").exists()


def test_control_an_explicit_opt_in_is_honoured_and_seen(project: Path, tmp_path: Path) -> None:
    """The same run with MLflow's own switch set to opt in: MLflow writes its file and looks up
    its host, which the test above would have seen."""
    home = tmp_path / "home"
    assert audited_run(project, home, MLFLOW_DISABLE_TELEMETRY="false") != []
    assert (home / ".config" / "mlflow" / "telemetry.json").exists()
