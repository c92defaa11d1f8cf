"""Linear-baselines benchmark: fit both baselines (their whole validation grids) and score test.

Reads the ``{train,valid,test}_tokens.parquet`` a `kedro run` wrote (the sample by default; a
`kedro run --env=full ... --pipelines=ingestion,tokenization` for the full IMDB), fits TF-IDF + LR
and NBSVM with the configured grids exactly as the baselines pipeline does, scores the test
tokens as evaluate does, and reports seconds and accuracies (and the load average: timings on
a shared machine are noisy).

    python benchmarks/baselines.py [--tokens-dir data/02_intermediate] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_sentiment.atomic import atomic_write
from imdb_sentiment.linear_baselines import BASELINES
from imdb_sentiment.parameters import BaselinesSettings
from imdb_sentiment.vocabulary import token_lists


def _split(tokens_dir: Path, split: str) -> tuple:
    table = pd.read_parquet(tokens_dir / f"{split}_tokens.parquet", dtype_backend="pyarrow")
    return token_lists(table, f"{split}_tokens"), table["label"].to_numpy()


def run(tokens_dir: Path, settings: BaselinesSettings) -> dict:
    """Seconds to fit and to score each baseline, its choice and its test accuracy."""
    data = {split: _split(tokens_dir, split) for split in ("train", "valid", "test")}
    results = {"reviews": {split: len(data[split][1]) for split in data}, "baselines": {}}
    for name, (_, fit) in BASELINES.items():
        started = time.perf_counter()
        model = fit(data["train"], data["valid"], getattr(settings, name))
        fitted = time.perf_counter()
        probabilities = model.predict_proba(data["test"][0])
        scored = time.perf_counter()
        results["baselines"][name] = {
            "fit_seconds": fitted - started,
            "test_score_seconds": scored - fitted,
            "chosen": model.chosen,
            "test_accuracy": float(np.mean((probabilities >= 0.5) == (data["test"][1] == 1))),
        }
    results["total_seconds"] = sum(
        b["fit_seconds"] + b["test_score_seconds"] for b in results["baselines"].values()
    )
    results["load_average"] = os.getloadavg()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens-dir", type=Path, default=Path("data/02_intermediate"))
    parser.add_argument(
        "--out", type=Path, default=Path("data/08_reporting/benchmarks_baselines.json")
    )
    args = parser.parse_args()
    results = run(args.tokens_dir, BaselinesSettings())
    text = json.dumps(results, indent=2)
    with atomic_write(args.out) as handle:
        handle.write((text + "\n").encode("utf-8"))
    print(text)


if __name__ == "__main__":
    main()
