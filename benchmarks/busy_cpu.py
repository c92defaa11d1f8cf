"""Training on a busy CPU: quiet, and beside another torch training process.

With torch's default OpenMP settings two torch processes on a machine with few cores make each
other 10-100x slower: each process's threads spin while they wait for one another, and starve
the other process's threads. The package sets ``OMP_WAIT_POLICY=PASSIVE`` before torch loads
(``src/imdb_sentiment/__init__.py``), and trains on one torch thread (``training.torch_threads:
1``): two threads that wait passively spend more time waking each other than working on a small
LSTM. This benchmark measures, on this machine:

1. a bare LSTM training step (batch 32 x 200 tokens, 50-d inputs, hidden 64, bidirectional,
   forward + backward + Adam), each case in a fresh process: torch's default wait policy,
   ``PASSIVE`` and one thread, quiet and beside a competitor;
2. a one-epoch ``kedro run --pipelines training`` on the bundled sample in a throw-away copy of
   the project, quiet and beside a competitor: the project's defaults (one thread), two threads
   that wait passively (``training.torch_threads=null``), and two threads with the fix defeated
   (``OMP_WAIT_POLICY=ACTIVE``, i.e. threads that spin).

The competitor is the bare step in an endless loop with torch's default settings (no
``OMP_WAIT_POLICY``, every core), as a second user's job, a parallel test worker or a CI
neighbour would run.

    python benchmarks/busy_cpu.py [--steps 20] [--out data/08_reporting/benchmarks_busy_cpu.json]

Neither this script nor its child processes import the package before torch: the package sets
``OMP_WAIT_POLICY`` when imported, so every measured process (and the competitor) starts with
exactly the environment it is given.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

DEFAULT_OUT = ROOT / "data" / "08_reporting" / "benchmarks_busy_cpu.json"
PROJECT_FILES = ("src", "conf/base", "pyproject.toml", ".telemetry", "data/01_raw/imdb_sample")
TARGET_RATIO = 2.5  # a one-epoch training run beside a competitor, over its quiet wall time
ONE_EPOCH = "training.epochs=1,training.progress=false"

# --- the measured step, run in child processes --------------------------------------------------


def _lstm_step_loop(steps: int | None) -> list[float]:
    """Seconds of each training step of a small BiLSTM on random data; ``None``: run forever."""
    import torch  # noqa: PLC0415 - imported only in the child, after its environment is set

    torch.manual_seed(0)
    lstm = torch.nn.LSTM(50, 64, batch_first=True, bidirectional=True)
    head = torch.nn.Linear(128, 1)
    optimizer = torch.optim.Adam([*lstm.parameters(), *head.parameters()])
    inputs = torch.randn(32, 200, 50)
    targets = torch.randint(0, 2, (32,)).float()
    seconds: list[float] = []
    while steps is None or len(seconds) < steps + 2:
        started = time.perf_counter()
        output, _ = lstm(inputs)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(
            head(output.amax(dim=1)).squeeze(-1), targets
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seconds.append(time.perf_counter() - started)
    return seconds[2:]  # the first two warm up allocators and thread pools


def _child_env(**settings: str | None) -> dict[str, str]:
    """This environment without any OpenMP setting, then ``settings`` (None removes a key)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env["KEDRO_DISABLE_TELEMETRY"] = "1"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["DO_NOT_TRACK"] = "true"
    for key, value in settings.items():
        if value is not None:
            env[key] = value
    return env


@contextmanager
def competitor() -> Iterator[None]:
    """Another torch process training an LSTM, with torch's default settings, for the block."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--role", "competitor"],
        env=_child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(5)  # its threads are up and spinning before we measure
        if process.poll() is not None:
            raise RuntimeError("the competing torch process exited early")
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bare_step(steps: int, **settings: str | None) -> dict[str, float]:
    """Median and mean seconds of a bare LSTM step in a fresh process with ``settings``."""
    done = subprocess.run(
        [sys.executable, __file__, "--role", "step", "--steps", str(steps)],
        env=_child_env(**settings),
        capture_output=True,
        text=True,
        check=True,
        timeout=3600,
    )
    seconds = json.loads(done.stdout.strip().splitlines()[-1])
    return {"median_s": statistics.median(seconds), "mean_s": statistics.fmean(seconds)}


# --- one-epoch kedro runs -----------------------------------------------------------------------


def project_copy(destination: Path) -> Path:
    """The configuration and bundled sample in ``destination``, MLflow in its own database."""
    for relative in PROJECT_FILES:
        source, target = ROOT / relative, destination / relative
        if source.is_dir():
            shutil.copytree(
                source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
            )
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / "conf" / "local").mkdir(parents=True, exist_ok=True)
    return destination


def kedro_run(project: Path, arguments: list[str], **settings: str | None) -> float:
    """Wall seconds of ``kedro run ARGUMENTS`` in ``project`` with ``settings``."""
    kedro = Path(sys.executable).with_name("kedro")
    started = time.perf_counter()
    done = subprocess.run(
        [str(kedro), "run", *arguments],
        cwd=project,
        env=_child_env(**settings),
        capture_output=True,
        text=True,
        check=False,
        timeout=7200,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"kedro run {' '.join(arguments)} failed:\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return wall


def last_epoch_seconds(project: Path) -> float:
    """Seconds of the last epoch in the newest training history of ``project``."""
    histories = sorted((project / "data" / "06_models").rglob("training_history.json"))
    history = json.loads(histories[-1].read_text())
    return float(history[-1]["seconds"])


# one-epoch training runs: (name, beside a competitor, extra --params, environment)
TRAINING_CASES: tuple[tuple[str, bool, str, dict[str, str]], ...] = (
    ("quiet", False, "", {}),
    ("quiet_two_threads", False, ",training.torch_threads=null", {}),
    ("beside_competitor", True, "", {}),
    ("beside_competitor_two_threads", True, ",training.torch_threads=null", {}),
    (
        "beside_competitor_spinning",
        True,
        ",training.torch_threads=null",
        {"OMP_WAIT_POLICY": "ACTIVE"},
    ),
)


def quiet_case(name: str) -> str:
    """The quiet run a case is compared with: the one on the same threads."""
    return "quiet_two_threads" if name.endswith("two_threads") else "quiet"


def training_runs(project: Path) -> dict[str, dict[str, float]]:
    """One-epoch training runs (:data:`TRAINING_CASES`), each after the data half was built."""
    cases: dict[str, dict[str, float]] = {}
    for name, busy, params, settings in TRAINING_CASES:
        arguments = ["--pipelines", "training", "--params", ONE_EPOCH + params]
        if busy:
            with competitor():
                wall = kedro_run(project, arguments, **settings)
        else:
            wall = kedro_run(project, arguments, **settings)
        cases[name] = {"wall_s": wall, "epoch_s": last_epoch_seconds(project)}
        print(f"  {name}: run {wall:.1f} s, epoch {cases[name]['epoch_s']:.1f} s", flush=True)
    return cases


# --- the benchmark ------------------------------------------------------------------------------


def run(steps: int) -> dict[str, Any]:
    """Every case, one after the other; ratios are over the quiet figure of the same kind."""
    step_cases = {
        "default": {},
        "passive": {"OMP_WAIT_POLICY": "PASSIVE"},
        "one_thread": {"OMP_NUM_THREADS": "1"},
    }
    steps_result: dict[str, dict[str, float]] = {}
    for name, settings in step_cases.items():
        steps_result[f"{name}_quiet"] = bare_step(steps, **settings)
        with competitor():
            steps_result[f"{name}_beside_competitor"] = bare_step(steps, **settings)
        print(
            f"  bare step, {name}: {steps_result[f'{name}_quiet']} quiet, "
            f"{steps_result[f'{name}_beside_competitor']} busy",
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="busy-cpu-") as folder:
        project = project_copy(Path(folder) / "project")
        kedro_run(project, ["--pipelines", "ingestion,tokenization,features"])
        runs = training_runs(project)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average_at_start": os.getloadavg(),
        },
        "bare_step": steps_result,
        "training_run": runs,
        "ratios": {
            name: {
                "wall": case["wall_s"] / runs[quiet_case(name)]["wall_s"],
                "epoch": case["epoch_s"] / runs[quiet_case(name)]["epoch_s"],
            }
            for name, case in runs.items()
        },
        "target_wall_ratio": TARGET_RATIO,
    }


def table(result: dict[str, Any]) -> str:
    lines = ["| case | quiet | beside a competitor | ratio |", "| --- | --- | --- | --- |"]
    for name in ("default", "passive", "one_thread"):
        quiet = result["bare_step"][f"{name}_quiet"]["median_s"]
        busy = result["bare_step"][f"{name}_beside_competitor"]["median_s"]
        lines.append(
            f"| bare LSTM step, {name} (median s) | {quiet:.3f} | {busy:.3f} | "
            f"{busy / quiet:.1f}x |"
        )
    runs, ratios = result["training_run"], result["ratios"]
    for name in (
        "beside_competitor",
        "beside_competitor_two_threads",
        "beside_competitor_spinning",
    ):
        quiet = quiet_case(name)
        lines.append(
            f"| one-epoch training run, {name} (wall s / epoch s) | "
            f"{runs[quiet]['wall_s']:.1f} / {runs[quiet]['epoch_s']:.1f} | "
            f"{runs[name]['wall_s']:.1f} / {runs[name]['epoch_s']:.1f} | "
            f"{ratios[name]['wall']:.2f}x / {ratios[name]['epoch']:.2f}x |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("benchmark", "step", "competitor"), default="benchmark")
    parser.add_argument("--steps", type=int, default=20, help="timed bare LSTM steps per case")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    args = parser.parse_args(argv)
    if args.role == "competitor":
        _lstm_step_loop(None)
        return None
    if args.role == "step":
        print(json.dumps(_lstm_step_loop(args.steps)))
        return None
    sys.path.insert(0, str(ROOT / "src"))
    from imdb_sentiment.atomic import atomic_write  # noqa: PLC0415 - never in the children

    result = run(args.steps)
    print(table(result))
    with atomic_write(args.out) as handle:
        handle.write(json.dumps(result, indent=2).encode())
    print(f"written to {args.out}")
    return result


if __name__ == "__main__":
    main()
