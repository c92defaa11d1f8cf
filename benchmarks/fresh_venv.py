"""The served model in a fresh virtual environment built only from its requirements.txt.

Downloads the model's artifacts, creates ``python -m venv`` beside them, installs the logged
``requirements.txt`` and nothing else (pip's own configuration applies: on this machine, the
local wheel index), checks that neither this project's package nor Kedro is importable there,
then loads the model with ``mlflow.pyfunc.load_model`` and scores two reviews. Times each step.
``mlflow models predict --env-manager virtualenv`` does the same, but needs pyenv and
virtualenv, which this machine does not have.

    python benchmarks/fresh_venv.py --tracking-uri sqlite:///mlflow.db \
        [--model-uri models:/imdb-sentiment@champion] [--workdir DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import mlflow
from benchmark_report import load_average, publish, stamp

# Run with the fresh venv's python: nothing of the project, everything from the model folder.
PROBE = """
import importlib.util, json, sys
import mlflow, pandas as pd
found = {name: importlib.util.find_spec(name) is not None for name in ("imdb_sentiment", "kedro")}
model = mlflow.pyfunc.load_model(sys.argv[1])
reviews = ["A wonderful, moving film.", "Dull and far too long."]
scored = model.predict(pd.DataFrame({"text": reviews}))
print(json.dumps({
    "importable_before_load": found,
    "served_from": sys.modules["imdb_sentiment.serving"].__file__,
    "columns": list(scored.columns),
    "probabilities": scored["probability"].round(6).tolist(),
    "labels": scored["label"].tolist(),
}))
"""


def _timed(command: list[str], **kwargs: Any) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}"
        )
    return time.perf_counter() - started, done


def fresh_venv_check(model_uri: str, tracking_uri: str, workdir: Path) -> dict[str, Any]:
    """Download, venv, install, load and predict; seconds of each and what the model said."""
    mlflow.set_tracking_uri(tracking_uri)
    started = time.perf_counter()
    model_dir = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=str(workdir / "m")))
    download_s = time.perf_counter() - started
    venv = workdir / "venv"
    base_python = getattr(sys, "_base_executable", sys.executable)
    venv_s, _ = _timed([base_python, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    requirements = (model_dir / "requirements.txt").read_text().split()
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install_s, _ = _timed(
        [str(python), "-m", "pip", "install", "-q", "-r", str(model_dir / "requirements.txt")],
        env=environment,
    )
    predict_s, done = _timed(
        [str(python), "-c", PROBE, str(model_dir)], env=environment, cwd=str(workdir)
    )
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "requirements": requirements,
        "download_s": round(download_s, 1),
        "venv_s": round(venv_s, 1),
        "pip_install_s": round(install_s, 1),
        "load_and_predict_s": round(predict_s, 1),
        "total_s": round(download_s + venv_s + install_s + predict_s, 1),
        **outcome,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", default="models:/imdb-sentiment@champion")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fresh-venv-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        result = {
            **stamp(),
            "model_uri": args.model_uri,
            **fresh_venv_check(args.model_uri, args.tracking_uri, workdir),
            "load_average_after": load_average(),
        }
    return publish(result, args.out)


if __name__ == "__main__":
    main()
