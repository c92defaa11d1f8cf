"""Training on Ray with N CPU workers against one process, on the bundled sample: wall clock.

Both train the project's model (``conf/base`` plus the settings below) on the sample's features
through :func:`imdb_sentiment.distributed.run_training`, what the training node calls, each in a
fresh process, one after the other: one process with batches of ``--batch-size``; then
``--workers`` Ray Train workers (DDP, gloo) with batches of ``--batch-size / --workers`` each
(the same reviews per optimiser step), a local Ray started for the run and stopped after, all
inside the measured time. Printed: wall clock of each, the Ray run's overhead (its wall clock
minus the single run's), the seconds its epochs took and the rest (starting and stopping Ray, the
workers, DDP set-up), test accuracy of both, and the load average before and after.

    kedro run --pipelines=ingestion,tokenization,features   # the sample's features, once
    python benchmarks/ray_overhead.py [--workers 2] [--epochs 6] [--seed 42] [--batch-size 32]
        [--repeat 1] [--out data/08_reporting/benchmarks_ray_overhead.json]

Needs the ``ray`` extra (``pip install -e ".[ray]"``). The machine's load matters: on a machine
shared with other jobs both figures move; compare only runs measured together.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from imdb_sentiment.atomic import atomic_write  # noqa: E402 - stdlib only

FEATURES = ROOT / "data" / "05_model_input"
DEFAULT_OUT = ROOT / "data" / "08_reporting" / "benchmarks_ray_overhead.json"
# A model small enough for minutes on two cores (the same as tests/e2e/test_ray_training.py).
SETTINGS = {"model.bilstm.hidden_dim": 32, "max_length": 200, "progress": False}


def _nested_set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = value


def _measure(overrides: dict[str, Any]) -> dict[str, Any]:
    """One training run in this process: wall clock, epoch seconds, test accuracy."""
    import numpy as np  # noqa: PLC0415 - the parent never loads torch
    from kedro.config import OmegaConfigLoader  # noqa: PLC0415

    from imdb_sentiment.datasets.encoded_reviews import EncodedReviewsDataset  # noqa: PLC0415
    from imdb_sentiment.distributed import run_training  # noqa: PLC0415
    from imdb_sentiment.inference import predict_probabilities  # noqa: PLC0415
    from imdb_sentiment.models import load_model  # noqa: PLC0415
    from imdb_sentiment.parameters import training_settings  # noqa: PLC0415
    from imdb_sentiment.settings import CONFIG_LOADER_ARGS  # noqa: PLC0415

    missing = [s for s in ("train", "valid", "test") if not (FEATURES / f"{s}_ids.npz").is_file()]
    if missing:
        raise SystemExit(
            f"{FEATURES}: no {missing} features; build them with "
            "`kedro run --pipelines=ingestion,tokenization,features`"
        )
    split = {
        name: EncodedReviewsDataset(filepath=str(FEATURES / f"{name}_ids.npz")).load()
        for name in ("train", "valid", "test")
    }
    embedding = np.load(FEATURES / "embedding_matrix.npy")
    loader = OmegaConfigLoader(conf_source=str(ROOT / "conf"), env="base", **CONFIG_LOADER_ARGS)
    params = loader["parameters"]["training"]
    for key, value in overrides.items():
        _nested_set(params, key, value)
    loop, model, distributed = training_settings(params)
    model = model.for_data(
        vocab_size=embedding.shape[0], embedding_dim=embedding.shape[1], padding_idx=0
    )
    started = time.perf_counter()
    result = run_training(split["train"], split["valid"], embedding, model, loop, distributed)
    wall = time.perf_counter() - started
    scores = predict_probabilities(
        load_model(result.checkpoint),
        split["test"],
        batch_size=64,
        device="cpu",
        bf16=False,
        max_length=loop.max_length,
    )
    return {
        "wall_s": wall,
        "epoch_s": [record["seconds"] for record in result.history],
        "best_epoch": result.best_epoch,
        "test_accuracy": float(np.mean((scores >= 0.5) == (split["test"].labels == 1))),
    }


def _in_fresh_process(overrides: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(overrides)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"the measured run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=42, help="training.seed")
    parser.add_argument("--batch-size", type=int, default=32, help="of the single process")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(json.loads(args.child))))
        return
    if args.batch_size % args.workers:
        parser.error("--batch-size must be a multiple of --workers")
    common = {**SETTINGS, "epochs": args.epochs, "seed": args.seed}
    single = {**common, "batch_size": args.batch_size}
    on_ray = {
        **common,
        "batch_size": args.batch_size // args.workers,
        "distributed.backend": "ray",
        "distributed.num_workers": args.workers,
    }
    pairs = []
    for attempt in range(1, args.repeat + 1):
        load_before = os.getloadavg()
        one, ray = _in_fresh_process(single), _in_fresh_process(on_ray)
        pair = {
            "single": one,
            "ray": ray,
            "load_before": load_before,
            "load_after": os.getloadavg(),
        }
        pairs.append(pair)
        print(
            f"pair {attempt}: load average {load_before[0]:.1f} before, "
            f"{pair['load_after'][0]:.1f} after (1 min)\n"
            f"  1 process, batch {args.batch_size}: {one['wall_s']:7.1f} s "
            f"(epochs {sum(one['epoch_s']):.1f} s), test accuracy {one['test_accuracy']:.4f}\n"
            f"  Ray, {args.workers} workers x batch {args.batch_size // args.workers}: "
            f"{ray['wall_s']:7.1f} s (epochs {sum(ray['epoch_s']):.1f} s, the rest "
            f"{ray['wall_s'] - sum(ray['epoch_s']):.1f} s), test accuracy "
            f"{ray['test_accuracy']:.4f}\n"
            f"  overhead of Ray: {ray['wall_s'] - one['wall_s']:+.1f} s "
            f"({ray['wall_s'] / one['wall_s']:.2f}x the single run)",
            flush=True,
        )
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()}, {os.cpu_count()} CPUs",
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {"single": single, "ray": on_ray},
        "pairs": pairs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(args.out) as handle:
        handle.write(json.dumps(report, indent=2).encode())
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
