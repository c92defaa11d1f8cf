"""Screen training settings on stored features: each setting's validation accuracy per seed.

The screen behind conf/base's recipe (README, "The bundled sample"): it trains with the library's
own loop (``imdb_sentiment.training.train_model``) on the features a ``kedro run`` left in
``data/05_model_input``, conf/base's training parameters with the given overrides, and prints one
JSON line per setting and seed. Choose on ``valid_accuracy``; ``test_accuracy`` is printed for
the record only (``--no-test`` leaves the test split unread).

    python scripts/screen_training.py '{"max_length": null, "adversarial_epsilon": 0.02}' \
        '{"max_length": 400}' --seeds 42,43 --epochs 12 [--features data/05_model_input]

Trains as a ``kedro run`` does in this process (``distributed.run_training``, on
``training.torch_threads``), but with no MLflow run and no catalog: nothing in ``data/`` is
written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
import yaml  # noqa: E402

import imdb_sentiment  # noqa: E402, F401 - sets OMP_WAIT_POLICY before torch loads
from imdb_sentiment.datasets.encoded_reviews import EncodedReviewsDataset  # noqa: E402
from imdb_sentiment.datasets.vocabulary import VocabularyDataset  # noqa: E402
from imdb_sentiment.distributed import run_training  # noqa: E402
from imdb_sentiment.inference import predict_logits, resolve_device, torch_threads  # noqa: E402
from imdb_sentiment.models import load_model  # noqa: E402
from imdb_sentiment.parameters import training_settings  # noqa: E402
from imdb_sentiment.sequences import EncodedReviews  # noqa: E402

PARAMETERS = ROOT / "conf" / "base" / "parameters_training.yml"


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in, nested mappings key by key."""
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def base_parameters() -> dict[str, Any]:
    """conf/base's ``training`` parameters, with a plain seed, no progress output, and training
    in this process."""
    params = yaml.safe_load(PARAMETERS.read_text())["training"]
    return merged(params, {"seed": 42, "progress": False, "distributed": {"backend": "none"}})


@dataclass
class Features:
    """What a screen trains on, loaded once: the splits, the embedding matrix, the padding id."""

    splits: dict[str, EncodedReviews]
    embedding: np.ndarray
    padding_idx: int

    @classmethod
    def load(cls, folder: Path, vocabulary: Path, read_test: bool) -> Features:
        names = ("train", "valid", *(("test",) if read_test else ()))
        return cls(
            splits={
                name: EncodedReviewsDataset(filepath=str(folder / f"{name}_ids.npz")).load()
                for name in names
            },
            embedding=np.load(folder / "embedding_matrix.npy"),
            padding_idx=VocabularyDataset(filepath=str(vocabulary)).load().pad_index,
        )


def screen_one(
    features: Features, base: dict[str, Any], overrides: dict[str, Any], seed: int
) -> dict[str, Any]:
    """Train one setting (``base`` training parameters with ``overrides``) with one seed; its
    validation accuracy, and its test accuracy when the features hold the test split."""
    loop, model_config, distributed = training_settings(merged(base, {**overrides, "seed": seed}))
    model_config = model_config.for_data(
        vocab_size=features.embedding.shape[0],
        embedding_dim=features.embedding.shape[1],
        padding_idx=features.padding_idx,
    )
    splits = features.splits
    started = time.perf_counter()
    result = run_training(
        splits["train"], splits["valid"], features.embedding, model_config, loop, distributed
    )
    record: dict[str, Any] = {
        "overrides": overrides,
        "seed": seed,
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "valid_accuracy": result.best_valid_accuracy,
        "valid_accuracy_by_epoch": [round(r["valid_accuracy"], 4) for r in result.history],
        "epoch_seconds": [round(r["seconds"], 1) for r in result.history],
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    if "test" in splits and result.checkpoint is not None:
        device = resolve_device(loop.device)
        model = load_model(result.checkpoint, map_location=device)
        with torch_threads(loop.torch_threads):
            logits = predict_logits(
                model, splits["test"], device, bf16=loop.bf16, max_length=loop.max_length
            )
        record["test_accuracy"] = float(np.mean((logits >= 0) == (splits["test"].labels == 1)))
    return record


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "settings", nargs="+", help="JSON objects of training parameter overrides, one a setting"
    )
    parser.add_argument("--seeds", default="42", help="comma-separated training seeds")
    parser.add_argument("--epochs", type=int, default=None, help="training.epochs for all")
    parser.add_argument("--features", default=str(ROOT / "data" / "05_model_input"))
    parser.add_argument(
        "--vocabulary", default=str(ROOT / "data" / "03_primary" / "vocabulary.json")
    )
    parser.add_argument("--no-test", action="store_true", help="leave the test split unread")
    args = parser.parse_args(argv)
    settings = []
    for text in args.settings:
        try:
            overrides = json.loads(text)
        except json.JSONDecodeError as error:
            parser.error(f"setting {text!r} is not JSON: {error}")
        if not isinstance(overrides, dict):
            parser.error(f"setting {text!r} is not a JSON object of training parameters")
        if args.epochs is not None:
            overrides = {"epochs": args.epochs, **overrides}
        settings.append(overrides)
    features, vocabulary = Path(args.features), Path(args.vocabulary)
    missing = [
        str(path)
        for path in (
            *(features / name for name in ("train_ids.npz", "valid_ids.npz")),
            features / "embedding_matrix.npy",
            vocabulary,
        )
        if not path.exists()
    ]
    if missing:
        parser.error(f"missing {missing}: run `kedro run --pipelines=features` first")
    loaded = Features.load(features, vocabulary, read_test=not args.no_test)
    base = base_parameters()
    records = []
    for overrides in settings:
        for seed in (int(s) for s in args.seeds.split(",")):
            record = screen_one(loaded, base, overrides, seed)
            print(json.dumps(record), flush=True)
            records.append(record)
    return records


if __name__ == "__main__":
    main()
