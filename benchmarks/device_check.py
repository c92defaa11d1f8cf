"""GPU check: our training and evaluation beside the baseline recipe, in one short run.

Needs only torch and numpy (our library is imported from ``src/``). Reads a features folder
(``train_ids.npz``, ``valid_ids.npz``, ``test_ids.npz``, ``embedding_matrix.npy`` and
``settings.json``, the resolved ``conf/full`` training settings; see
``benchmarks/make_device_features.py``) and measures, on one device:

* ours (the model and training settings of ``settings.json``, built through the model registry;
  ``--batch-size`` and friends override them): per epoch seconds, train reviews/s, valid and
  test accuracy (test only for this benchmark; model selection stays on valid), evaluation
  seconds;
* the package's own ``train_model`` for one epoch (cross-check of the seconds per epoch);
* the baseline recipe (``baseline_reference.py``: batch 30, BucketIterator, unpacked, fp32): per
  epoch seconds, reviews/s and test accuracy, and its evaluation seconds;
* the longest reviews of the data (the ``batch_size`` longest of train + test, padded to the
  longest) through forward + backward of each model, without running out of memory;
* peak GPU memory (``torch.cuda.max_memory_allocated``) of each phase.

``--time-budget`` stops starting epochs that would not finish in time (the first epoch of each
recipe always runs). Prints a table and writes every figure as JSON to ``--out``.

    python benchmarks/device_check.py --features .device/features --out $OUT/device_check.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

BENCH_DIR = Path(__file__).resolve().parent
SRC_DIR = BENCH_DIR.parent / "src"
for _path in (str(SRC_DIR), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import baseline_reference as baseline  # noqa: E402

from imdb_sentiment.atomic import atomic_write  # noqa: E402
from imdb_sentiment.batching import bucket_batches, pad_batch, to_device  # noqa: E402
from imdb_sentiment.inference import (  # noqa: E402
    autocast,
    predict_logits,
    resolve_device,
    tune_backend,
    use_bf16,
)
from imdb_sentiment.models import ModelConfig, SentimentModel, build_model  # noqa: E402
from imdb_sentiment.sequences import EncodedReviews  # noqa: E402
from imdb_sentiment.training import (  # noqa: E402
    TrainConfig,
    seed_everything,
    settings_from_params,
    train_model,
    train_one_epoch,
)

FEATURE_FILES = ("train_ids.npz", "valid_ids.npz", "test_ids.npz", "embedding_matrix.npy")
# The resolved training settings of conf/full (written by make_device_features.py, with Kedro)
SETTINGS_FILE = "settings.json"
TARGET_EPOCH_S = 5.0
TARGET_SPEEDUP = 8.0
TARGET_EVAL_S = 3.0


# --------------------------------------------------------------------------- inputs


def load_settings(folder: str | os.PathLike) -> tuple[TrainConfig, ModelConfig, int]:
    """The training loop's settings, the model's configuration and the vocabulary's pad index,
    as ``make_device_features.py`` resolved them from the project's configuration."""
    path = Path(folder) / SETTINGS_FILE
    data = json.loads(path.read_text())
    loop, model = settings_from_params(data["training"], f"{path}: training")
    return loop, model, int(data["pad_index"])


def load_features(folder: str | os.PathLike) -> dict[str, Any]:
    """The three splits (ids as int32), the embedding matrix and the settings, checked."""
    folder = Path(folder)
    missing = [name for name in (*FEATURE_FILES, SETTINGS_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder}: missing {missing}; build it with benchmarks/make_device_features.py"
        )
    matrix = np.load(folder / "embedding_matrix.npy", allow_pickle=False).astype(np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{folder / 'embedding_matrix.npy'}: expected 2-d, got {matrix.shape}")
    loop, model, pad_index = load_settings(folder)
    splits: dict[str, Any] = {
        "embedding": matrix,
        "train_config": loop,
        "model_config": model.for_data(
            vocab_size=int(matrix.shape[0]),
            embedding_dim=int(matrix.shape[1]),
            padding_idx=pad_index,
        ),
    }
    for split in ("train", "valid", "test"):
        path = folder / f"{split}_ids.npz"
        raw = EncodedReviews.load_npz(path)
        if len(raw) == 0:
            raise ValueError(f"{path}: no reviews")
        if len(raw.ids) and int(raw.ids.max()) >= matrix.shape[0]:
            raise ValueError(
                f"{path}: id {int(raw.ids.max())} is outside the embedding matrix of "
                f"{matrix.shape[0]} rows"
            )
        splits[split] = EncodedReviews(
            ids=raw.ids.astype(np.int32),
            offsets=raw.offsets.astype(np.int64),
            labels=raw.labels.astype(np.int8),
            review_ids=raw.review_ids.astype(np.int64),
        )
    return splits


def subset(encoded: EncodedReviews, indices: np.ndarray) -> EncodedReviews:
    """The reviews ``indices`` of ``encoded``, in that order."""
    return EncodedReviews.from_lists(
        [encoded.review(int(i)) for i in indices],
        encoded.labels[indices],
        encoded.review_ids[indices],
    )


def longest_reviews(splits: list[EncodedReviews], count: int) -> EncodedReviews:
    """The ``count`` longest reviews of all ``splits`` together (the worst batch of the data)."""
    pairs = [
        (int(length), part, index)
        for part, encoded in enumerate(splits)
        for index, length in enumerate(encoded.lengths)
    ]
    pairs.sort(key=lambda item: -item[0])
    chosen = pairs[:count]
    return EncodedReviews.from_lists(
        [splits[part].review(index) for _, part, index in chosen],
        [splits[part].labels[index] for _, part, index in chosen],
    )


# --------------------------------------------------------------------------- measuring


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean((logits >= 0) == (labels == 1)))


def timed_predict(
    model: SentimentModel,
    encoded: EncodedReviews,
    device: torch.device,
    batch_size: int,
    bf16: bool,
) -> dict[str, Any]:
    """Our evaluation (the package's ``predict_logits``), timed and synchronised."""
    _sync(device)
    started = time.perf_counter()
    logits = predict_logits(model, encoded, device, batch_size=batch_size, bf16=bf16)
    _sync(device)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "reviews": len(encoded),
        "reviews_per_s": len(encoded) / seconds,
        "accuracy": _accuracy(logits, encoded.labels),
    }


class Ours:
    """Our model trained with the package's step (as in ``train_model``), one epoch at a time."""

    def __init__(self, data: dict[str, Any], device: torch.device, args: argparse.Namespace):
        seed_everything(args.seed)
        self.data, self.device, self.args = data, device, args
        self.model = build_model(data["model_config"], data["embedding"])
        self.model.to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=args.learning_rate)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.rng = np.random.default_rng(args.seed)
        self.config = our_train_config(data, device, args)
        self.bf16 = use_bf16(device, self.config.bf16)
        self.epoch = 0

    def train_epoch(self) -> dict[str, Any]:
        """One epoch (or ``--max-batches``) of training, then valid and test evaluation."""
        tune_backend(self.device)  # as train_model does
        args, device, train = self.args, self.device, self.data["train"]
        self.epoch += 1
        batches = bucket_batches(train.lengths, args.batch_size, self.rng, self.config.pool_batches)
        batches = batches[: args.max_batches] if args.max_batches else batches
        _reset_peak(device)
        _sync(device)
        started = time.perf_counter()
        totals = train_one_epoch(
            self.model,
            self.optimizer,
            self.loss_fn,
            train,
            batches,
            device=device,
            config=self.config,
        )
        seen = totals.seen
        train_loss = totals.loss_sum / seen
        _sync(device)
        seconds = time.perf_counter() - started
        record: dict[str, Any] = {
            "epoch": self.epoch,
            "batches": len(batches),
            "reviews": seen,
            "seconds": seconds,
            "reviews_per_s": seen / seconds,
            "train_loss": train_loss,
            "peak_gpu_bytes": _peak(device),
        }
        eval_bs = args.eval_batch_size
        valid = timed_predict(self.model, self.data["valid_eval"], device, eval_bs, self.bf16)
        test = timed_predict(self.model, self.data["test_eval"], device, eval_bs, self.bf16)
        record.update(
            valid_accuracy=valid["accuracy"],
            test_accuracy=test["accuracy"],
            test_eval_seconds=test["seconds"],
            test_eval_reviews=test["reviews"],
            test_eval_reviews_per_s=test["reviews_per_s"],
            peak_gpu_bytes_with_eval=_peak(device),
        )
        return record

    def longest(self, batch: EncodedReviews) -> dict[str, Any]:
        """Forward + backward of the longest reviews (one optimizer-free step)."""
        pad_index = self.model.config.padding_idx
        ids, lengths, labels = pad_batch(batch, np.arange(len(batch)), pad_index=pad_index)
        return _through(
            self.device,
            int(ids.shape[1]),
            len(batch),
            lambda: self.loss_fn(
                self._forward(to_device(ids, self.device), lengths).float(),
                to_device(labels, self.device),
            ),
            self.model,
        )

    def _forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        with autocast(self.device, self.config.bf16):
            return self.model(ids, lengths)


class Reference:
    """The baseline recipe (``baseline_reference.py``), one epoch at a time."""

    def __init__(self, data: dict[str, Any], device: torch.device, args: argparse.Namespace):
        torch.manual_seed(baseline.TORCH_SEED)
        self.data, self.device, self.args = data, device, args
        vocab_size = int(data["embedding"].shape[0])
        self.model = baseline.build_baseline_model(data["embedding"], device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=baseline.LEARNING_RATE)
        self.criterion = nn.BCEWithLogitsLoss().to(device)
        self.shuffler = random.Random(args.seed)
        self.train_batcher = baseline.BaselineBatcher.from_encoded(data["train"], vocab_size)
        self.test_batcher = baseline.BaselineBatcher.from_encoded(data["test_eval"], vocab_size)
        self.test_batches = baseline.bucket_iterator_batches(
            data["test_eval"].lengths, baseline.BATCH_SIZE, train=False
        )
        self.epoch = 0

    def train_epoch(self) -> dict[str, Any]:
        baseline.torch_defaults()
        self.epoch += 1
        batches = baseline.bucket_iterator_batches(
            self.data["train"].lengths, baseline.BATCH_SIZE, train=True, shuffler=self.shuffler
        )
        batches = batches[: self.args.max_batches] if self.args.max_batches else batches
        _reset_peak(self.device)
        trained = baseline.train_epoch(
            self.model, self.train_batcher, batches, self.optimizer, self.criterion, self.device
        )
        record = {"epoch": self.epoch, **trained, "peak_gpu_bytes": _peak(self.device)}
        test = baseline.evaluate(self.model, self.test_batcher, self.test_batches, self.device)
        record.update(
            test_accuracy=test["accuracy"],
            test_eval_seconds=test["seconds"],
            test_eval_reviews=test["reviews"],
            test_eval_reviews_per_s=test["reviews_per_s"],
            peak_gpu_bytes_with_eval=_peak(self.device),
        )
        return record

    def longest(self, batch: EncodedReviews) -> dict[str, Any]:
        batcher = baseline.BaselineBatcher.from_encoded(batch, int(self.data["embedding"].shape[0]))
        text, label = batcher(list(range(len(batch))), self.device)
        return _through(
            self.device,
            int(text.shape[0]),
            len(batch),
            lambda: self.criterion(self.model(text).squeeze(1), label),
            self.model,
        )


def _through(
    device: torch.device,
    length: int,
    batch_size: int,
    loss: Callable[[], torch.Tensor],
    model: nn.Module,
) -> dict[str, Any]:
    """Run ``loss().backward()`` once; seconds, peak memory, or the out-of-memory error."""
    model.train()
    model.zero_grad(set_to_none=True)
    _reset_peak(device)
    _sync(device)
    started = time.perf_counter()
    result: dict[str, Any] = {"padded_length": length, "batch_size": batch_size}
    try:
        loss().backward()
        _sync(device)
        result.update(ok=True, seconds=time.perf_counter() - started)
    except torch.OutOfMemoryError as error:
        result.update(ok=False, error=str(error).splitlines()[0])
    model.zero_grad(set_to_none=True)
    result["peak_gpu_bytes"] = _peak(device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


# --------------------------------------------------------------------------- the run


def _steady(records: list[dict[str, Any]], key: str) -> float | None:
    """Median over epochs after the first (warm-up) when there are any, else the first."""
    values = [r[key] for r in records[1:]] or [r[key] for r in records[:1]]
    return float(np.median(values)) if values else None


def _best(records: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in records]
    return float(min(values)) if values else None


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return ours / theirs if ours is not None and theirs else None


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """The headline figures, ours over the baseline's, and the targets they meet."""
    ours, ref = result["ours"]["epochs"], result["baseline"]["epochs"]
    full = result["max_batches"] is None
    s: dict[str, Any] = {
        "ours_epoch_s": _steady(ours, "seconds"),
        "baseline_epoch_s": _steady(ref, "seconds"),
        "ours_train_reviews_per_s": _steady(ours, "reviews_per_s"),
        "baseline_train_reviews_per_s": _steady(ref, "reviews_per_s"),
        "ours_test_eval_s": _best(ours, "test_eval_seconds"),
        "baseline_test_eval_s": _best(ref, "test_eval_seconds"),
        "ours_test_accuracy_per_epoch": [r["test_accuracy"] for r in ours],
        "baseline_test_accuracy_per_epoch": [r["test_accuracy"] for r in ref],
        "ours_valid_accuracy_per_epoch": [r["valid_accuracy"] for r in ours],
    }
    s["train_speedup"] = _ratio(s["ours_train_reviews_per_s"], s["baseline_train_reviews_per_s"])
    s["eval_speedup"] = _ratio(s["baseline_test_eval_s"], s["ours_test_eval_s"])
    peaks = [r["peak_gpu_bytes"] for r in ours if r["peak_gpu_bytes"] is not None]
    s["ours_peak_gpu_bytes"] = max(peaks) if peaks else None
    peaks = [r["peak_gpu_bytes"] for r in ref if r["peak_gpu_bytes"] is not None]
    s["baseline_peak_gpu_bytes"] = max(peaks) if peaks else None
    on_gpu = result["device"].startswith("cuda") and full
    if on_gpu and ours and ref:
        epochs = min(len(ours), len(ref))
        s["targets"] = {
            "epoch_le_5s": s["ours_epoch_s"] <= TARGET_EPOCH_S,
            "train_speedup_ge_8": (s["train_speedup"] or 0) >= TARGET_SPEEDUP,
            "test_eval_le_3s": s["ours_test_eval_s"] <= TARGET_EVAL_S,
            "test_accuracy_no_worse_at_same_epochs": (
                max(s["ours_test_accuracy_per_epoch"][:epochs])
                >= max(s["baseline_test_accuracy_per_epoch"][:epochs])
            ),
        }
    return s


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, in the order that keeps both recipes measured within the budget."""
    started = time.perf_counter()
    deadline = started + args.time_budget
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    data = load_features(args.features)
    settings = data["train_config"]
    for name in ("batch_size", "learning_rate", "eval_batch_size", "seed"):
        if getattr(args, name) is None:  # not given: as the configuration says
            setattr(args, name, getattr(settings, name))
    if args.max_batches:
        # Evaluate on as many reviews as the cut-short training sees, spread over the split.
        for split in ("valid", "test"):
            count = min(len(data[split]), args.max_batches * args.eval_batch_size)
            picked = np.random.default_rng(0).choice(len(data[split]), count, replace=False)
            data[f"{split}_eval"] = subset(data[split], np.sort(picked))
    else:
        data["valid_eval"], data["test_eval"] = data["valid"], data["test"]
    all_lengths = np.concatenate([data[s].lengths for s in ("train", "valid", "test")])
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "host": platform.node(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cpu_threads": torch.get_num_threads(),
        "features": str(args.features),
        "reviews": {s: len(data[s]) for s in ("train", "valid", "test")},
        "eval_reviews": {s: len(data[f"{s}_eval"]) for s in ("valid", "test")},
        "vocabulary_size": int(data["embedding"].shape[0]),
        "embedding_dim": int(data["embedding"].shape[1]),
        "max_review_length": int(all_lengths.max()),
        "mean_review_length": float(all_lengths.mean()),
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "eval_batch_size": args.eval_batch_size,
        "baseline_batch_size": baseline.BATCH_SIZE,
        "max_batches": args.max_batches,
        "model": data["model_config"].describe(),
        "bf16": use_bf16(device, our_train_config(data, device, args).bf16),
        "time_budget_s": args.time_budget,
        "skipped": [],
    }
    ours, ref = Ours(data, device, args), Reference(data, device, args)
    result["parameters"] = {
        "ours": sum(p.numel() for p in ours.model.parameters()),
        "baseline": sum(p.numel() for p in ref.model.parameters()),
    }
    result["longest_batch"] = {}
    if args.longest_batch:
        for name, recipe, size in (
            ("ours", ours, args.batch_size),
            ("baseline", ref, baseline.BATCH_SIZE),
        ):
            worst = longest_reviews([data["train"], data["test"]], min(size, args.longest_batch))
            result["longest_batch"][name] = recipe.longest(worst)
        _log(f"longest reviews done ({time.perf_counter() - started:.1f} s)")

    ours_epochs: list[dict[str, Any]] = []
    baseline_epochs: list[dict[str, Any]] = []
    plan = [("ours", 1), ("baseline", 1)]
    plan += [("ours", e) for e in range(2, args.epochs + 1)]
    plan += [("package", 1)] if args.package_epoch and not args.max_batches else []
    plan += [("baseline", e) for e in range(2, args.baseline_epochs + 1)]
    lasted: dict[str, float] = {}
    for kind, epoch in plan:
        remaining = deadline - time.perf_counter()
        # The first epoch of each always runs; later ones only when they fit the budget.
        if kind in lasted and lasted[kind] * 1.1 > remaining:
            result["skipped"].append(f"{kind} epoch {epoch}: {remaining:.0f} s left")
            _log(f"skipping {kind} epoch {epoch}: {remaining:.0f} s left of the budget")
            continue
        mark = time.perf_counter()
        if kind == "ours":
            ours_epochs.append(ours.train_epoch())
            record = ours_epochs[-1]
        elif kind == "baseline":
            baseline_epochs.append(ref.train_epoch())
            record = baseline_epochs[-1]
        else:
            record = package_epoch(data, device, args)
            result["package_train_model"] = record
        lasted[kind] = time.perf_counter() - mark
        _log(f"{kind} epoch {epoch}: {_brief(record)} ({lasted[kind]:.1f} s with evaluation)")
    result["ours"] = {"epochs": ours_epochs}
    result["baseline"] = {"epochs": baseline_epochs}
    result["summary"] = summarise(result)
    result["wall_s"] = time.perf_counter() - started
    return result


def our_train_config(
    data: dict[str, Any], device: torch.device, args: argparse.Namespace
) -> TrainConfig:
    """The configured training settings with this run's overrides."""
    return replace(
        data["train_config"],
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        eval_batch_size=args.eval_batch_size,
        device=str(device),
        bf16=data["train_config"].bf16 and not args.no_bf16,
        seed=args.seed,
        progress=False,
    )


def package_epoch(data: dict[str, Any], device: torch.device, args: argparse.Namespace) -> dict:
    """One epoch of the package's own ``train_model`` with the same settings (cross-check)."""
    config = replace(our_train_config(data, device, args), epochs=1)
    _reset_peak(device)
    outcome = train_model(
        data["train"], data["valid"], data["embedding"], data["model_config"], config
    )
    record = dict(outcome.history[0]) if outcome.history else {}
    record["peak_gpu_bytes"] = _peak(device)
    record["stop_reason"] = outcome.stop_reason
    return record


def _brief(record: dict[str, Any]) -> str:
    keys = ("seconds", "reviews_per_s", "train_reviews_per_second", "test_accuracy")
    return ", ".join(f"{k} {record[k]:.4g}" for k in keys if record.get(k) is not None)


def _log(message: str) -> None:
    print(f"[device_check] {message}", flush=True)


# --------------------------------------------------------------------------- output


def _fmt(value: Any, spec: str = ".3g") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return format(value, spec) if isinstance(value, int | float) else str(value)


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / 2**20:,.0f} MiB"


def table(result: dict[str, Any]) -> str:
    """The figures as a plain-text table, ours beside the baseline recipe's."""
    s = result["summary"]
    lines = [
        f"device {result['device']} ({result['device_name']}), torch {result['torch']}, "
        f"{result['reviews']['train']} train / {result['eval_reviews']['test']} test reviews, "
        f"max batches {result['max_batches']}, wall {result['wall_s']:.1f} s",
        f"{'figure':<34}{'ours':>14}{'baseline':>14}{'ratio':>10}",
    ]

    def row(name: str, ours: Any, theirs: Any, ratio: Any = None, spec: str = ".3g") -> None:
        lines.append(f"{name:<34}{_fmt(ours, spec):>14}{_fmt(theirs, spec):>14}{_fmt(ratio):>10}")

    row(
        "seconds per epoch (steady)",
        s["ours_epoch_s"],
        s["baseline_epoch_s"],
        _ratio(s["baseline_epoch_s"], s["ours_epoch_s"]),
    )
    row(
        "train reviews/s (steady)",
        s["ours_train_reviews_per_s"],
        s["baseline_train_reviews_per_s"],
        s["train_speedup"],
        ".4g",
    )
    row(
        "test eval seconds (best)",
        s["ours_test_eval_s"],
        s["baseline_test_eval_s"],
        s["eval_speedup"],
    )
    ours_eval = max((r["test_eval_reviews_per_s"] for r in result["ours"]["epochs"]), default=None)
    baseline_eval = max(
        (r["test_eval_reviews_per_s"] for r in result["baseline"]["epochs"]), default=None
    )
    row(
        "test eval reviews/s (best)",
        ours_eval,
        baseline_eval,
        _ratio(ours_eval, baseline_eval),
        ".4g",
    )
    lines.append(
        f"{'peak GPU memory, training':<34}{_mib(s['ours_peak_gpu_bytes']):>14}"
        f"{_mib(s['baseline_peak_gpu_bytes']):>14}"
    )
    for name, item in result["longest_batch"].items():
        state = "ok" if item["ok"] else f"OOM: {item.get('error', '')}"
        lines.append(
            f"longest batch {name}: {item['batch_size']} x {item['padded_length']} tokens, "
            f"{state}, peak {_mib(item['peak_gpu_bytes'])}"
        )
    lines.append(
        f"{'epoch':<8}{'ours s':>9}{'ours rev/s':>12}{'valid acc':>11}{'test acc':>10}"
        f"{'base s':>9}{'base rev/s':>12}{'base test':>11}"
    )
    ours, ref = result["ours"]["epochs"], result["baseline"]["epochs"]
    for i in range(max(len(ours), len(ref))):
        a = ours[i] if i < len(ours) else {}
        b = ref[i] if i < len(ref) else {}
        lines.append(
            f"{i + 1:<8}{_fmt(a.get('seconds'), '.2f'):>9}{_fmt(a.get('reviews_per_s'), '.0f'):>12}"
            f"{_fmt(a.get('valid_accuracy'), '.4f'):>11}{_fmt(a.get('test_accuracy'), '.4f'):>10}"
            f"{_fmt(b.get('seconds'), '.2f'):>9}{_fmt(b.get('reviews_per_s'), '.0f'):>12}"
            f"{_fmt(b.get('test_accuracy'), '.4f'):>11}"
        )
    package = result.get("package_train_model")
    if package:
        lines.append(
            f"package train_model, 1 epoch: {_fmt(package.get('seconds'), '.2f')} s with valid "
            f"eval, {_fmt(package.get('train_reviews_per_second'), '.0f')} train reviews/s"
        )
    for name, met in s.get("targets", {}).items():
        lines.append(f"target {name}: {_fmt(met)}")
    lines.extend(f"skipped: {item}" for item in result["skipped"])
    return "\n".join(lines)


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Whole or not at all: a temporary file beside ``path``, then a rename."""
    with atomic_write(path) as handle:
        handle.write(json.dumps(data, indent=2).encode())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", required=True, help="folder with the ids and the matrix")
    parser.add_argument("--out", required=True, help="JSON file for every figure")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--epochs", type=int, default=4, help="epochs of ours")
    parser.add_argument(
        "--baseline-epochs", type=int, default=2, help="epochs of the baseline recipe"
    )
    parser.add_argument(
        "--batch-size", type=int, default=None, help="ours (default: the settings'; baseline: 30)"
    )
    parser.add_argument(
        "--learning-rate", type=float, default=None, help="ours (default: the settings'; 1e-3)"
    )
    parser.add_argument("--eval-batch-size", type=int, default=None, help="ours (the settings')")
    parser.add_argument("--max-batches", type=int, default=None, help="cut epochs short (CPU)")
    parser.add_argument("--time-budget", type=float, default=400.0, help="seconds for the run")
    parser.add_argument("--seed", type=int, default=None, help="random seed (the settings')")
    parser.add_argument(
        "--longest-batch",
        type=int,
        default=64,
        help="reviews in the longest-reviews batch (capped at each recipe's batch size; 0 skips)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's); 1 avoids OpenMP stalls on a busy machine",
    )
    parser.add_argument(
        "--no-bf16", action="store_true", help="ours in fp32 even where the settings ask for bf16"
    )
    parser.add_argument(
        "--no-package-epoch",
        dest="package_epoch",
        action="store_false",
        help="skip the one-epoch cross-check with the package's train_model",
    )
    args = parser.parse_args(argv)
    for name in ("epochs", "baseline_epochs", "batch_size", "eval_batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.max_batches is not None and args.max_batches < 1:
        parser.error("--max-batches must be >= 1")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    result = run(args)
    write_json(args.out, result)
    print(table(result))
    print(f"[device_check] figures written to {args.out}")
    return result


if __name__ == "__main__":
    main()
