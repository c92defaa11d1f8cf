"""The CPU benchmarks in one run: ours beside the baseline recipe, every figure as a ratio.

1. Data preparation on the full IMDB (parquet -> id sequences): ours (``data_prep.py``) and the
   baseline's (serial spaCy, ``Counter``, Python lists; ``baseline_reference.baseline_data_prep``).
2. Training throughput of the full model configuration: each recipe batches the whole train
   split its own way; ``--train-batches`` batches, one from each equal-count stratum of padded
   width, are timed through a whole training step, and the epoch time is their weighted sum.
3. Evaluation throughput on the same ``--eval-reviews`` random test reviews.

GPU figures come from ``device_check.py``. Prints a table; writes JSON to ``--out``.

    python benchmarks/run.py --features .device/features [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _path in (str(ROOT / "src"), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import baseline_reference as baseline  # noqa: E402
import device_check  # noqa: E402

from imdb_sentiment.batching import bucket_batches  # noqa: E402
from imdb_sentiment.inference import predict_logits, tune_backend  # noqa: E402
from imdb_sentiment.models import build_model  # noqa: E402
from imdb_sentiment.training import seed_everything, train_one_epoch  # noqa: E402

DEFAULT_FEATURES = ROOT / ".device" / "features"
DEFAULT_OUT = ROOT / "data" / "08_reporting" / "benchmarks_cpu.json"
TARGET_PREP_S = 20.0
TARGET_CPU_SPEEDUP = 1.5


def data_prep(data_dir: str, baseline_limit: int | None) -> dict[str, Any]:
    """Ours and the baseline's preparation of the full IMDB, one after the other."""
    from data_prep import TreeRssSampler, run_data_prep_benchmark  # noqa: PLC0415

    ours = run_data_prep_benchmark(data_dir, lowercase=False)  # the baseline's Field keeps case
    with TreeRssSampler() as sampler:
        theirs = baseline.baseline_data_prep(data_dir, limit=baseline_limit)
    for key in ("ids", "itos", "labels"):
        theirs.pop(key)
    theirs["peak_tree_rss_bytes"] = sampler.peak_bytes
    return {
        "ours": ours,
        "baseline": theirs,
        "wall_ratio": ours["wall_s"] / theirs["wall_s"],
        "tokens_per_s_ratio": ours["tokens_per_s"] / theirs["tokens_per_s"],
    }


def _strata(widths: np.ndarray, count: int) -> list[tuple[int, int]]:
    """``(batch index, stratum size)``: the median-width batch of ``count`` equal strata."""
    order = np.argsort(widths, kind="stable")
    return [(int(part[len(part) // 2]), len(part)) for part in np.array_split(order, count)]


def _timed(step: Any) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def train_throughput(data: dict[str, Any], batches: int, batch_size: int) -> dict[str, Any]:
    """Estimated seconds per epoch over the whole train split, ours and the baseline's."""
    train, matrix = data["train"], data["embedding"]
    device = torch.device("cpu")
    n = len(train)

    config = replace(data["train_config"], batch_size=batch_size, device="cpu", progress=False)
    seed_everything(config.seed)
    ours = build_model(data["model_config"], matrix)
    optimizer = torch.optim.Adam(ours.parameters(), lr=config.learning_rate)
    loss_fn = nn.BCEWithLogitsLoss()
    ours.train()

    def our_step(indices: np.ndarray) -> None:
        train_one_epoch(ours, optimizer, loss_fn, train, [indices], device=device, config=config)

    torch.manual_seed(baseline.TORCH_SEED)
    theirs = baseline.build_baseline_model(matrix, device)
    baseline_optimizer = torch.optim.Adam(theirs.parameters(), lr=baseline.LEARNING_RATE)
    criterion = nn.BCEWithLogitsLoss()
    batcher = baseline.BaselineBatcher.from_encoded(train, int(matrix.shape[0]))
    theirs.train()

    def baseline_step(batch: list[int]) -> None:
        text, label = batcher(batch, device)
        pred = theirs(text).squeeze(1)
        loss = criterion(pred, label)
        baseline.binary_acc(pred, label).item()
        baseline_optimizer.zero_grad()
        loss.backward()
        baseline_optimizer.step()

    result: dict[str, Any] = {"train_reviews": n, "timed_batches": batches}
    plans = {
        "ours": (
            bucket_batches(
                train.lengths, batch_size, np.random.default_rng(config.seed), config.pool_batches
            ),
            our_step,
            lambda: tune_backend(device),
        ),
        "baseline": (
            baseline.bucket_iterator_batches(
                train.lengths, baseline.BATCH_SIZE, train=True, shuffler=random.Random(42)
            ),
            baseline_step,
            baseline.torch_defaults,
        ),
    }
    for name, (epoch, step, set_backend) in plans.items():
        set_backend()
        widths = np.array([int(train.lengths[np.asarray(b)].max()) for b in epoch])
        step(min(epoch, key=lambda b: int(train.lengths[np.asarray(b)].max())))  # warm-up
        picks = _strata(widths, min(batches, len(epoch)))
        seconds = [_timed(lambda b=epoch[i], f=step: f(b)) for i, _ in picks]
        estimate = float(sum(s * size for s, (_, size) in zip(seconds, picks, strict=True)))
        padded = int(sum(widths[i] * len(b) for i, b in enumerate(epoch)))
        result[name] = {
            "batch_size": len(epoch[0]),
            "batches_per_epoch": len(epoch),
            "timed_widths": [int(widths[i]) for i, _ in picks],
            "timed_seconds": seconds,
            "epoch_s_estimate": estimate,
            "reviews_per_s": n / estimate,
            "padded_tokens_per_epoch": padded,
            "padding_share": 1.0 - float(train.lengths.sum()) / padded,
        }
    result["speedup"] = result["ours"]["reviews_per_s"] / result["baseline"]["reviews_per_s"]
    return result


def eval_throughput(data: dict[str, Any], reviews: int, eval_batch_size: int) -> dict[str, Any]:
    """Both recipes evaluate the same random ``reviews`` test reviews."""
    test, matrix = data["test"], data["embedding"]
    picked = np.sort(np.random.default_rng(0).choice(len(test), min(reviews, len(test)), False))
    part = device_check.subset(test, picked)
    device = torch.device("cpu")
    seed_everything(data["train_config"].seed)
    ours = build_model(data["model_config"], matrix).eval()
    tune_backend(device)
    started = time.perf_counter()
    predict_logits(ours, part, device, batch_size=eval_batch_size)
    ours_s = time.perf_counter() - started
    baseline.torch_defaults()
    theirs = baseline.build_baseline_model(matrix, device)
    batcher = baseline.BaselineBatcher.from_encoded(part, int(matrix.shape[0]))
    batches = baseline.bucket_iterator_batches(part.lengths, baseline.BATCH_SIZE, train=False)
    baseline_result = baseline.evaluate(theirs, batcher, batches, device)
    return {
        "reviews": len(part),
        "ours": {"seconds": ours_s, "reviews_per_s": len(part) / ours_s},
        "baseline": {
            "seconds": baseline_result["seconds"],
            "reviews_per_s": baseline_result["reviews_per_s"],
        },
        "speedup": baseline_result["seconds"] / ours_s,
    }


def table(result: dict[str, Any]) -> str:
    """Figure, ours, the baseline recipe's, ratio."""
    lines = [
        f"{result['date']} on {result['machine']}, torch threads {result['threads']}, "
        f"load average {result['load_average'][0]:.1f}",
        f"{'figure':<44}{'ours':>12}{'baseline':>12}{'ratio':>8}",
    ]

    def row(name: str, ours: float, theirs: float, ratio: float, spec: str = ".3g") -> None:
        lines.append(f"{name:<44}{ours:>12{spec}}{theirs:>12{spec}}{ratio:>8.2f}")

    prep = result.get("data_prep")
    if prep:
        o, s = prep["ours"], prep["baseline"]
        row(
            f"data prep wall s ({o['reviews']} / {s['reviews']} reviews)",
            o["wall_s"],
            s["wall_s"],
            s["wall_s"] / o["wall_s"],
        )
        row(
            "data prep tokens/s",
            o["tokens_per_s"],
            s["tokens_per_s"],
            prep["tokens_per_s_ratio"],
            ",.0f",
        )
        row(
            "data prep peak RSS GiB (process tree)",
            o["peak_tree_rss_bytes"] / 2**30,
            s["peak_tree_rss_bytes"] / 2**30,
            o["peak_tree_rss_bytes"] / s["peak_tree_rss_bytes"],
        )
    train = result.get("train")
    if train:
        o, s = train["ours"], train["baseline"]
        row(
            f"CPU train s/epoch est. ({train['train_reviews']} reviews)",
            o["epoch_s_estimate"],
            s["epoch_s_estimate"],
            s["epoch_s_estimate"] / o["epoch_s_estimate"],
        )
        row("CPU train reviews/s", o["reviews_per_s"], s["reviews_per_s"], train["speedup"])
        row(
            "padding share of the epoch's tokens",
            o["padding_share"],
            s["padding_share"],
            o["padding_share"] / max(s["padding_share"], 1e-9),
        )
    evaluation = result.get("eval")
    if evaluation:
        o, s = evaluation["ours"], evaluation["baseline"]
        row(
            f"CPU eval reviews/s ({evaluation['reviews']} test reviews)",
            o["reviews_per_s"],
            s["reviews_per_s"],
            evaluation["speedup"],
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get(
            "IMDB_PARQUET_DIR",
            str(Path(__file__).resolve().parents[2] / "shared" / "data" / "imdb"),
        ),
    )
    parser.add_argument("--features", default=str(DEFAULT_FEATURES))
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--train-batches", type=int, default=8, help="timed batches per recipe")
    parser.add_argument("--batch-size", type=int, default=64, help="ours (the baseline's: 30)")
    parser.add_argument("--eval-reviews", type=int, default=600)
    parser.add_argument(
        "--eval-batch-size", type=int, default=64, help="ours (CPU: small is faster)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--baseline-prep-limit",
        type=int,
        default=None,
        help="the baseline's data prep on the first N reviews of each split",
    )
    parser.add_argument("--skip-data-prep", action="store_true")
    parser.add_argument("--skip-model", action="store_true", help="data prep only")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} ({os.cpu_count()} CPUs, no GPU)",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average": os.getloadavg(),
        "command": "python benchmarks/run.py " + " ".join(argv or sys.argv[1:]),
    }
    if not args.skip_data_prep:
        result["data_prep"] = data_prep(args.data_dir, args.baseline_prep_limit)
        print(table(result), flush=True)
    if not args.skip_model:
        data = device_check.load_features(args.features)
        result["features"] = args.features
        result["embedding_dim"] = int(data["embedding"].shape[1])
        result["train"] = train_throughput(data, args.train_batches, args.batch_size)
        result["eval"] = eval_throughput(data, args.eval_reviews, args.eval_batch_size)
    result["load_average_end"] = os.getloadavg()
    device_check.write_json(args.out, result)
    print(table(result))
    print(f"figures written to {args.out}")
    return result


if __name__ == "__main__":
    main()
