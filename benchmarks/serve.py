"""The served model over HTTP: `mlflow models serve` latency, and what it answers bad rows.

Starts ``mlflow models serve -m MODEL_URI --env-manager local`` on 127.0.0.1 (a free port, one
worker), sends ``--requests`` requests one after the other, each one full-length review of the
bundled sample's test split (``{"dataframe_records": [{"text": ...}]}``), and reports the
latency percentiles measured by the client (keep-alive connection, so the TCP handshake is not
counted) and how many failed. Then it sends a null, a number and an empty review and records the
status and message of each answer (HTTP 400 naming the row). Prints JSON; writes it to --out.

    python benchmarks/serve.py --tracking-uri sqlite:///mlflow.db \
        [--model-uri models:/imdb-sentiment@champion] [--requests 1000] [--out FILE]

The virtual environment's ``bin`` must be on PATH (``mlflow models serve`` starts ``uvicorn``
from there): activate the venv first, as README says.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import requests
from benchmark_report import load_average, publish, stamp

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_TEST = ROOT / "data" / "01_raw" / "imdb_sample" / "test.parquet"
READY_WITHIN_S = 180
BAD_ROWS = {
    "null": [{"text": "A fine film."}, {"text": None}],
    "number": [{"text": 5}],
    "empty": [{"text": "Good."}, {"text": "Bad."}, {"text": "  "}],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def model_server(
    model_uri: str, tracking_uri: str, log: Path, cwd: Path | None = None
) -> Iterator[str]:
    """``mlflow models serve`` of ``model_uri`` on a free port; yields its URL once it answers
    /ping; stops it (and the uvicorn it starts) on the way out."""
    port = free_port()
    bin_dir = str(Path(sys.executable).parent)
    environment = {
        **os.environ,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [
        str(Path(bin_dir) / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "--workers",
        "1",
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as output:
        server = subprocess.Popen(
            command,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=cwd,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"mlflow models serve exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/ping", timeout=2).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"not ready in {READY_WITHIN_S} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def latency(url: str, reviews: list[str], count: int) -> dict[str, Any]:
    """``count`` one-review requests in a row: percentiles in ms, failures."""
    seconds, failures = [], []
    with requests.Session() as session:
        for index in range(count):
            body = {"dataframe_records": [{"text": reviews[index % len(reviews)]}]}
            started = time.perf_counter()
            answer = session.post(f"{url}/invocations", json=body, timeout=60)
            seconds.append(time.perf_counter() - started)
            predictions = answer.json().get("predictions") if answer.ok else None
            if not (answer.ok and predictions and 0 <= predictions[0]["probability"] <= 1):
                failures.append({"request": index, "status": answer.status_code})
    ms = sorted(1000 * s for s in seconds)
    return {
        "requests": count,
        "failed": len(failures),
        "failures": failures[:10],
        "p50_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.90 * (len(ms) - 1))], 2),
        "p99_ms": round(ms[int(0.99 * (len(ms) - 1))], 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def refusals(url: str) -> dict[str, dict[str, Any]]:
    """What the server answers a null, a number and an empty review."""
    answers = {}
    for name, records in BAD_ROWS.items():
        answer = requests.post(
            f"{url}/invocations", json={"dataframe_records": records}, timeout=60
        )
        body = answer.json()
        answers[name] = {"status": answer.status_code, "message": body.get("message", "")}
    return answers


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", default="models:/imdb-sentiment@champion")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--log", type=Path, default=Path("mlflow-models-serve.log"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    reviews = pd.read_parquet(SAMPLE_TEST)["text"].tolist()
    result: dict[str, Any] = {
        **stamp(),
        "model_uri": args.model_uri,
        "mean_review_characters": round(sum(map(len, reviews)) / len(reviews), 1),
    }
    started = time.perf_counter()
    with model_server(args.model_uri, args.tracking_uri, args.log) as url:
        result["start_s"] = round(time.perf_counter() - started, 1)
        result["latency"] = latency(url, reviews, args.requests)
        result["refusals"] = refusals(url)
    result["load_average_after"] = load_average()
    return publish(result, args.out)


if __name__ == "__main__":
    main()
