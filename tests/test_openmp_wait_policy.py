"""OpenMP threads wait passively in every process that runs the project (see busy_cpu.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# What a `kedro run` imports before its nodes run: the project's settings, hooks and through them
# the training library, torch among it. The policy must be in the environment when torch is
# first imported, since libgomp reads it once, then.
PROBE = """
import importlib.abc, json, os, sys
from pathlib import Path

seen = {}

class RecordPolicyAtTorchImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" and "policy" not in seen:
            seen["policy"] = os.environ.get("OMP_WAIT_POLICY")
        return None

sys.meta_path.insert(0, RecordPolicyAtTorchImport())
from kedro.framework.startup import bootstrap_project
bootstrap_project(Path(sys.argv[1]))
import imdb_sentiment.settings
import imdb_sentiment.training
print(json.dumps({"policy": seen.get("policy", "torch never imported")}))
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


def test_torch_loads_with_passive_waiting_in_a_project_run() -> None:
    assert _probe(_env_without_policy()) == {"policy": "PASSIVE"}


def test_a_wait_policy_the_user_set_wins() -> None:
    env = {**_env_without_policy(), "OMP_WAIT_POLICY": "ACTIVE"}
    assert _probe(env)["policy"] == "ACTIVE"


def test_busy_cpu_benchmark_children_start_with_the_environment_they_are_given() -> None:
    """benchmarks/busy_cpu.py runs itself as the measured step and as the competitor: loading it
    must not import the package (which would set PASSIVE and make torch's default case, and the
    competitor, passive too)."""
    benchmark = str(ROOT / "benchmarks" / "busy_cpu.py")
    script = (
        "import importlib.util, json, os\n"
        f"spec = importlib.util.spec_from_file_location('busy_cpu', {benchmark!r})\n"
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print(json.dumps({'policy': os.environ.get('OMP_WAIT_POLICY')}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env_without_policy(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"policy": None}
