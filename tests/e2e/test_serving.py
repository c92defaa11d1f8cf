"""The registered champion served by `mlflow models serve`: 1,000 requests, none failing, bad
rows answered with HTTP 400 naming the row; and loaded in a fresh venv from its requirements."""

from __future__ import annotations

import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.e2e.kedro_runs import tracking_uri

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import fresh_venv  # noqa: E402
import serve  # noqa: E402

pytestmark = pytest.mark.slow

CHAMPION = "models:/imdb-sentiment@champion"


def test_the_champion_answers_1000_requests_and_400_for_bad_rows(
    trained_project: Path, tmp_path: Path, record_property
) -> None:
    reviews = pd.read_parquet(serve.SAMPLE_TEST)["text"].tolist()
    with serve.model_server(
        CHAMPION, tracking_uri(trained_project), tmp_path / "serve.log", cwd=tmp_path
    ) as url:
        measured = serve.latency(url, reviews, 1000)
        refused = serve.refusals(url)
    print(f"\n1,000 one-review requests: p50 {measured['p50_ms']} ms, p99 {measured['p99_ms']} ms")
    record_property("p50_ms", measured["p50_ms"])
    record_property("p99_ms", measured["p99_ms"])
    assert measured["failed"] == 0, measured["failures"]
    assert refused["null"]["status"] == 400
    assert "row 1: the review is missing (null)" in refused["null"]["message"]
    assert refused["number"]["status"] == 400
    assert "row 0: the review is not text (int)" in refused["number"]["message"]
    assert refused["empty"]["status"] == 400
    assert "row 2: the review is empty" in refused["empty"]["message"]
    assert all("Traceback" not in answer["message"] for answer in refused.values())


@pytest.mark.heavy  # about 5 minutes of pip install
def test_the_model_runs_in_a_fresh_venv_from_its_requirements(
    trained_project: Path, tmp_path: Path
) -> None:
    result = fresh_venv.fresh_venv_check(CHAMPION, tracking_uri(trained_project), tmp_path)
    print(f"\nfresh venv: {result['total_s']} s ({result['pip_install_s']} s of pip install)")
    assert result["importable_before_load"] == {"imdb_sentiment": False, "kedro": False}
    assert "/code/imdb_sentiment/serving.py" in result["served_from"]
    assert result["columns"] == ["probability", "label"]
    mlflow.set_tracking_uri(tracking_uri(trained_project))
    try:
        here = mlflow.pyfunc.load_model(CHAMPION).predict(
            pd.DataFrame({"text": ["A wonderful, moving film.", "Dull and far too long."]})
        )
    finally:
        mlflow.set_tracking_uri(None)
    np.testing.assert_allclose(result["probabilities"], here["probability"], atol=1e-6)
