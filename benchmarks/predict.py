"""Batch prediction throughput: full-length reviews scored per second by the predict pipeline's
code (``batch_scoring.score_table``: rows checked, tokenized, encoded, the network, labels).

The model is the default configuration (``conf/base``: a 1x64 BiLSTM over GloVe 50d, on whole
reviews, as ``training.max_length`` says), either a trained checkpoint (``--project`` with a
``kedro run`` behind it) or, without one, that configuration with untrained weights and a
vocabulary built from the bundled sample (speed does not depend on the weights). The reviews
are ``--reviews`` random reviews of the full IMDB test split, whole (mean 268 tokens, 28% longer
than 300). Each setting is run ``--repeats`` times; the best is reported beside the median, with
the machine's load average.

    python benchmarks/predict.py [--reviews 5000] [--project .] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

from benchmark_report import load_average, stamp  # noqa: E402

from imdb_sentiment.batch_scoring import score_table  # noqa: E402
from imdb_sentiment.models import build_model, config_from_params  # noqa: E402
from imdb_sentiment.parameters import PredictSettings  # noqa: E402
from imdb_sentiment.serving import SentimentModel  # noqa: E402
from imdb_sentiment.text import TokenizerConfig, tokenize_to_arrow  # noqa: E402
from imdb_sentiment.vocabulary import Vocabulary  # noqa: E402

DEFAULT_REVIEWS = ROOT.parent / "shared" / "data" / "imdb" / "test.parquet"
SAMPLE_TRAIN = ROOT / "data" / "01_raw" / "imdb_sample" / "train.parquet"
TARGET_REVIEWS_PER_S = 1000.0


def _yaml(path: Path) -> dict[str, Any]:
    import yaml  # noqa: PLC0415

    return yaml.safe_load(path.read_text())


def default_model(project: Path | None) -> tuple[SentimentModel, str]:
    """A trained checkpoint of ``project``, else the default configuration, untrained."""
    if project is not None:
        from imdb_sentiment.datasets.scoring_model import ScoringModelDataset  # noqa: PLC0415

        model = ScoringModelDataset(
            checkpoint={"filepath": str(project / "data/06_models/model_checkpoint.pt")},
            vocabulary={"filepath": str(project / "data/03_primary/vocabulary.json")},
        ).load()
        model.threshold = 0.5
        return model, f"trained checkpoint of {project}"
    training = _yaml(ROOT / "conf/base/parameters_training.yml")["training"]
    tokenization = _yaml(ROOT / "conf/base/parameters_tokenization.yml")["tokenization"]
    tokenizer = TokenizerConfig.from_params(tokenization)
    train = pd.read_parquet(SAMPLE_TRAIN)
    vocabulary = Vocabulary.build(
        tokenize_to_arrow(train["text"].tolist(), tokenizer),
        max_size=10_000,
        tokenization=tokenizer,
    )
    config = config_from_params(training["model"]).for_data(
        vocab_size=len(vocabulary), embedding_dim=50, padding_idx=vocabulary.pad_index
    )
    torch.manual_seed(0)
    checkpoint = {
        "format": "imdb-sentiment-checkpoint/2",
        "model_type": training["model"]["type"],
        "model_config": config.to_dict(),
        "state_dict": build_model(config).state_dict(),
        "max_length": training["max_length"],
    }
    model = SentimentModel(checkpoint=checkpoint, vocabulary=vocabulary, threshold=0.5)
    return model, f"default configuration ({config.describe()}), untrained"


def measure(
    model: SentimentModel, table: pd.DataFrame, settings: PredictSettings, repeats: int
) -> dict[str, Any]:
    """Reviews per second of ``score_table`` over ``table``, ``repeats`` times."""
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        scored = score_table(table, model, settings, threshold=0.5)
        rates.append(len(scored.predictions) / (time.perf_counter() - started))
    return {
        "best_reviews_per_s": round(max(rates), 1),
        "median_reviews_per_s": round(statistics.median(rates), 1),
        "load_average_after": load_average(),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reviews", type=int, default=5000)
    parser.add_argument("--source", type=Path, default=DEFAULT_REVIEWS)
    parser.add_argument("--project", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)

    reviews = pd.read_parquet(args.source, columns=["id", "text"])
    table = reviews.sample(n=min(args.reviews, len(reviews)), random_state=0).reset_index(drop=True)
    model, described = default_model(args.project)
    model.score(["warm up: load spaCy and build the network"])
    defaults = PredictSettings.from_dict(
        _yaml(ROOT / "conf/base/parameters_predict.yml")["predict"], "predict"
    )
    result: dict[str, Any] = {
        **stamp(),
        "model": described,
        "reviews": len(table),
        "mean_characters": round(float(table["text"].str.len().mean()), 1),
        "target_reviews_per_s": TARGET_REVIEWS_PER_S,
        "runs": [],
    }
    for threads in args.threads:
        for workers in args.workers:
            settings = PredictSettings(
                **{
                    **defaults.to_dict(),
                    "n_workers": workers,
                    "torch_threads": threads,
                    "progress": False,
                }
            )
            run = {"torch_threads": threads, "n_workers": workers}
            run.update(measure(model, table, settings, args.repeats))
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
    best = max(result["runs"], key=lambda r: r["best_reviews_per_s"])
    result["best"] = best
    result["meets_target"] = best["best_reviews_per_s"] >= TARGET_REVIEWS_PER_S
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
