"""Ctrl-C during training keeps the best model and history and marks the MLflow run failed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.kedro_runs import kedro_run, runs_of

pytestmark = pytest.mark.slow


def interrupted_kedro_run(project: Path, arguments: list[str], when: str) -> tuple[int, str]:
    """`kedro run` in a subprocess, sent Ctrl-C (SIGINT) once a line containing ``when`` shows."""
    kedro = Path(sys.executable).with_name("kedro")
    # A shell's background job (nohup ... &, a CI step) starts with SIGINT ignored, and an ignored
    # signal stays ignored in children; a handled one is reset to the default by exec. So handle
    # it here while the run starts, as a terminal's foreground job would have it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        run = subprocess.Popen(
            [str(kedro), "run", *arguments],
            cwd=project,
            env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    output: list[str] = []
    deadline = time.monotonic() + 240
    sent = False
    try:
        for line in run.stdout:
            output.append(line)
            if when in line:
                run.send_signal(signal.SIGINT)
                sent = True
                break
            assert time.monotonic() < deadline, f"the run never logged {when!r}"
        output.extend(run.stdout)
        assert sent, f"the run ended without logging {when!r}:\n{''.join(output)[-3000:]}"
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    return run.returncode, "".join(output)


def test_ctrl_c_keeps_best_model_and_fails_the_run(project_copy: Path) -> None:
    kedro_run(project_copy, pipeline_names=["ingestion", "tokenization", "features"])
    params = (
        "training.epochs=500,training.patience=500,training.model.bilstm.hidden_dim=8,"
        "training.max_length=40,training.progress=false"
    )
    returncode, log = interrupted_kedro_run(
        project_copy, ["--pipeline=training", f"--params={params}"], "epoch 2: train loss"
    )
    assert returncode != 0, log[-3000:]
    assert "interrupted" in log

    summary = json.loads((project_copy / "data/06_models/training_summary.json").read_text())
    assert summary["stop_reason"] == "interrupted"
    assert summary["best_epoch"] >= 1
    (model_version,) = (project_copy / "data/06_models/model_checkpoint.pt").iterdir()
    assert (model_version / "model_checkpoint.pt").stat().st_size > 0
    (history_version,) = (project_copy / "data/06_models/training_history.json").iterdir()
    history = json.loads((history_version / "training_history.json").read_text())
    assert len(history) >= 2
    failed = runs_of(project_copy)[-1]
    assert failed.info.status in {"FAILED", "KILLED"}


def test_ctrl_c_outside_training_marks_the_run_killed(project_copy: Path) -> None:
    returncode, log = interrupted_kedro_run(project_copy, [], "tokenize_train_reviews")
    assert returncode != 0, log[-3000:]
    (run,) = runs_of(project_copy)
    assert run.info.status == "KILLED"
