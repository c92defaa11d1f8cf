"""Running a model: device choice, backend settings, bf16 autocast, batched prediction.

Below both :mod:`imdb_sentiment.training` (validation each epoch) and
:mod:`imdb_sentiment.evaluation` / serving (the test split, raw text). Torch + numpy only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from imdb_sentiment.batching import bucket_batches, pad_batch, to_device
from imdb_sentiment.errors import ExpectedFailure
from imdb_sentiment.models import SentimentModel
from imdb_sentiment.sequences import EncodedReviews


class DeviceUnavailableError(RuntimeError, ExpectedFailure):
    """A device was asked for by name but this machine does not have it."""


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU. An unavailable explicit device raises."""
    if isinstance(name, str) and name.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name.strip().lower() if isinstance(name, str) else name)
    except (RuntimeError, ValueError) as error:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(
                f"device {name!r} was asked for but CUDA is not available (torch "
                f"{torch.__version__}, CUDA build {torch.version.cuda}); set device to auto or cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(
                f"device {name!r} was asked for but only {torch.cuda.device_count()} "
                "CUDA device(s) exist"
            )
    elif device.type == "mps":
        if not torch.backends.mps.is_available():
            raise DeviceUnavailableError(f"device {name!r} was asked for but MPS is not available")
    elif device.type != "cpu":
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


def tune_backend(device: torch.device) -> None:
    """Process-wide speed settings for ``device``.

    CUDA: let cuDNN pick the fastest kernels. CPU: flush denormal floats to zero; the LSTM's
    small gradients otherwise hit the CPU's slow denormal path (benchmarks/README.md).
    """
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    elif device.type == "cpu":
        torch.set_flush_denormal(True)


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Within: torch's intra-op threads set to ``threads`` (None: left as they are); restored
    after.

    On a CPU of few cores a small LSTM's steps are many tiny parallel regions: two threads that
    wait passively for each other (``OMP_WAIT_POLICY=PASSIVE``, which the package sets so that a
    busy machine does not stall) spend more time waking than working, and one thread is faster
    (benchmarks/README.md, "Training on a busy CPU").
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def use_bf16(device: torch.device, bf16: bool) -> bool:
    """Whether bf16 autocast applies: asked for, on CUDA, and supported there."""
    return bool(bf16) and device.type == "cuda" and torch.cuda.is_bf16_supported()


def autocast(device: torch.device, bf16: bool) -> torch.autocast:
    """bf16 autocast on CUDA when asked; never on the CPU (slow and unneeded there)."""
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16(device, bf16)
    )


@torch.no_grad()
def predict_logits(
    model: SentimentModel,
    encoded: EncodedReviews,
    device: torch.device,
    *,
    batch_size: int = 256,
    bf16: bool = True,
    max_length: int | None = None,
    batches: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Float32 logits of every review, in the original order (eval mode, length-sorted batches).

    ``model`` must already be on ``device``; its train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    if batches is None:
        batches = bucket_batches(encoded.lengths, batch_size)
    logits = np.empty(len(encoded), dtype=np.float32)
    pending: list[tuple[np.ndarray, torch.Tensor]] = []
    pad_index = model.config.padding_idx
    try:
        for indices in batches:
            ids, lengths, _ = pad_batch(encoded, indices, max_length, pad_index=pad_index)
            with autocast(device, bf16):
                out = model(to_device(ids, device), lengths)
            pending.append((indices, out.float()))
        for indices, out in pending:  # one synchronisation at the end, not one per batch
            logits[indices] = out.cpu().numpy()
    finally:
        model.train(was_training)
    return logits


def model_logits(  # noqa: PLR0917 (the signature the nodes call)
    model: SentimentModel,
    encoded: EncodedReviews,
    batch_size: int = 512,
    device: str | torch.device = "auto",
    bf16: bool = True,
    max_length: int | None = None,
) -> np.ndarray:
    """Float32 logits of every review, in the original order, on ``device`` (resolved and
    tuned here; ``model`` is moved there); eval mode, no gradients."""
    target = resolve_device(device)
    tune_backend(target)
    model.to(target)
    return predict_logits(
        model, encoded, target, batch_size=batch_size, bf16=bf16, max_length=max_length
    )


def predict_probabilities(
    model: SentimentModel, encoded: EncodedReviews, temperature: float = 1.0, **settings: Any
) -> np.ndarray:
    """Positive-class probabilities (float32) of every review, in the original order:
    ``sigmoid(logit / temperature)`` (the temperature fitted on validation calibrates them).

    ``settings`` are :func:`model_logits`' (batch size, device, bf16, max length).
    """
    logits = model_logits(model, encoded, **settings)
    return torch.sigmoid(torch.from_numpy(logits) / float(temperature)).numpy()
