"""The fault suite's tools: runs through the fork server, and what a run left on disk."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import torch
from matplotlib import image

from imdb_sentiment.atomic import is_temporary
from tests.conftest import PROJECT_ROOT
from tests.fault.faults import JOURNAL_ENV, KILLED_MARK, SPEC_ENV

KILLED = -9  # the return code of a process ended by SIGKILL


def run_environment(**extra: str) -> dict[str, str]:
    """The environment of a `kedro run` from a shell: this one without pytest's markers."""
    env = {key: value for key, value in os.environ.items() if key != "PYTEST_CURRENT_TEST"}
    env.update(
        KEDRO_DISABLE_TELEMETRY="1",
        MLFLOW_DISABLE_TELEMETRY="true",
        OMP_WAIT_POLICY="PASSIVE",
        MPLBACKEND="Agg",
        COLUMNS="1000",  # Rich's log lines unwrapped, so that tests can search them
        # Arrow's jemalloc keeps a background thread; a process forked (by the fork server)
        # while it holds an arena lock hung in its first allocation (seen once: the template
        # run stuck in tokenization). glibc's malloc is fork-safe.
        ARROW_DEFAULT_MEMORY_POOL="system",
    )
    env.update(extra)
    return env


@dataclass
class Run:
    """A `kedro run` started by the fork server."""

    pid: int
    log: Path
    journal: Path
    returncode: int | None = None

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    @property
    def replaced(self) -> set[Path]:
        """The files this run published (renamed into place)."""
        if not self.journal.exists():
            return set()
        return {Path(line) for line in self.journal.read_text().splitlines() if line}

    @property
    def killed_by_fault(self) -> bool:
        return self.returncode == KILLED and KILLED_MARK in self.output


class ForkServer:
    """`tests.fault.zygote` in a subprocess: start runs, wait for them."""

    def __init__(self, logs: Path) -> None:
        self._logs = logs
        self._count = 0
        with (logs / "fork_server.log").open("w") as errors:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.fault.zygote"],
                cwd=PROJECT_ROOT,
                env=run_environment(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        assert self._receive() == {"ready": True}

    def _receive(self) -> dict[str, Any]:
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server died (exit code {self._process.poll()})")
        return json.loads(line)

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        return self._receive()

    def start(
        self,
        project: Path,
        *arguments: str,
        fault: str | None = None,
        env: dict[str, str] | None = None,
        fsize_limit: int | None = None,
    ) -> Run:
        """`kedro run <arguments>` in ``project``, killed at ``fault`` if given."""
        self._count += 1
        stem = self._logs / f"run{self._count:03d}"
        journal = stem.with_suffix(".journal")
        extra = {JOURNAL_ENV: str(journal), **(env or {})}
        if fault:
            extra[SPEC_ENV] = fault
        reply = self._ask(
            {
                "op": "run",
                "cwd": str(project),
                "argv": ["kedro", "run", *arguments],
                "env": run_environment(**extra),
                "log": str(stem.with_suffix(".log")),
                "fsize_limit": fsize_limit,
            }
        )
        return Run(pid=reply["pid"], log=stem.with_suffix(".log"), journal=journal)

    def wait(self, run: Run, timeout: float = 600) -> Run:
        reply = self._ask({"op": "wait", "pid": run.pid, "timeout": timeout})
        if reply["returncode"] is None:
            raise TimeoutError(f"kedro run {run.pid} still running after {timeout} s: {run.log}")
        run.returncode = reply["returncode"]
        return run

    def run(self, project: Path, *arguments: str, **options: Any) -> Run:
        return self.wait(self.start(project, *arguments, **options))

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=30)


def wait_for_line(run: Run, text: str, timeout: float = 300) -> None:
    """Block until ``text`` shows in the run's log."""
    deadline = time.monotonic() + timeout
    while text not in run.output:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} never showed in {run.log}:\n{run.output[-3000:]}")
        time.sleep(0.2)


# --------------------------------------------------------------------------- the disk


def output_files(project: Path) -> list[Path]:
    """Every file under ``data/``, the bundled input included, temporaries excluded."""
    return sorted(
        path
        for path in (project / "data").rglob("*")
        if path.is_file() and not any(is_temporary(Path(part)) for part in path.parts)
    )


def temporaries(project: Path) -> list[Path]:
    return sorted(path for path in (project / "data").rglob("*") if is_temporary(path))


def snapshot(project: Path) -> dict[Path, str]:
    """sha256 of every output file."""
    return {path: hashlib.sha256(path.read_bytes()).hexdigest() for path in output_files(project)}


def _read(path: Path) -> None:
    """Read ``path`` whole as its format; raises if it is truncated or corrupt."""
    suffix = path.suffix
    if suffix == ".parquet":
        pq.read_table(path)
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".npy":
        np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            for name in archive.files:
                archive[name]
    elif suffix == ".pt":
        torch.load(path, map_location="cpu", weights_only=True)
    elif suffix == ".png":
        image.imread(path)
    elif path.stat().st_size == 0 and suffix == ".lock":
        return


def unreadable(project: Path) -> dict[Path, str]:
    """The output files that do not read back whole, with the error of each."""
    broken = {}
    for path in output_files(project):
        try:
            _read(path)
        except Exception as error:  # any failure to read is the finding
            broken[path] = f"{type(error).__name__}: {error}"
    return broken


def changes(before: dict[Path, str], after: dict[Path, str]) -> set[Path]:
    """Files added, removed or rewritten between two snapshots."""
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def copy_tree(source: Path, destination: Path) -> Path:
    """A copy of a project (outputs and MLflow store included), its tracking URI retargeted."""
    shutil.copytree(source, destination, symlinks=True)
    (destination / "conf" / "local" / "mlflow.yml").write_text(
        f"server:\n  mlflow_tracking_uri: sqlite:///{destination / 'mlflow.db'}\n"
    )
    return destination
