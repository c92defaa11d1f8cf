"""OpenMP threads wait passively in every process that runs the project (see busy_cpu.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a `kedro run` imports before any node: the project's settings (and through them its
# hooks). torch must still be unloaded then, or the wait policy would come too late for libgomp.
PROBE = """
import json, os, sys
from pathlib import Path
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path(sys.argv[1]))
import imdb_sentiment.settings
print(json.dumps({"policy": os.environ.get("OMP_WAIT_POLICY"), "torch": "torch" in sys.modules}))
"""


def _probe(env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _env_without_policy() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}


def test_project_start_up_sets_passive_waiting_before_torch_loads() -> None:
    assert _probe(_env_without_policy()) == {"policy": "PASSIVE", "torch": False}


def test_a_wait_policy_the_user_set_wins() -> None:
    env = {**_env_without_policy(), "OMP_WAIT_POLICY": "ACTIVE"}
    assert _probe(env)["policy"] == "ACTIVE"
