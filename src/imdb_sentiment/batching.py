"""Length-bucketed batches and their padding into tensors (torch + numpy only).

Batches of reviews of similar length waste little compute on padding; shuffling pools
before sorting and the batch order after keeps training batches varied between epochs.
"""

from __future__ import annotations

import numpy as np
import torch

from imdb_sentiment.sequences import EncodedReviews


def bucket_batches(
    lengths: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | None = None,
    pool_batches: int = 100,
) -> list[np.ndarray]:
    """Split review indices into batches of similar length, each review exactly once.

    With ``rng``: shuffle, cut into pools of ``pool_batches * batch_size`` reviews, sort each
    pool by length, cut it into batches and shuffle the batch order (training). Without:
    sort everything by length (stable) and cut into batches, deterministically (evaluation).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pool_batches < 1:
        raise ValueError(f"pool_batches must be >= 1, got {pool_batches}")
    lengths = np.asarray(lengths)
    n = len(lengths)
    if rng is None:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    order = rng.permutation(n)
    pool_size = pool_batches * batch_size
    batches: list[np.ndarray] = []
    for start in range(0, n, pool_size):
        pool = order[start : start + pool_size]
        pool = pool[np.argsort(lengths[pool], kind="stable")]
        batches.extend(pool[i : i + batch_size] for i in range(0, len(pool), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def pad_batch(
    encoded: EncodedReviews,
    indices: np.ndarray,
    max_length: int | None = None,
    *,
    pad_index: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reviews ``indices`` as ``(ids [B, T] int64, lengths [B] int64, labels [B] float32)``.

    Truncation keeps the first ``max_length`` tokens; ``pad_index`` (the vocabulary's, which
    is the model's ``padding_idx``) fills the rest. An empty review becomes one pad token of
    length 1: packing needs length >= 1, and the pad embedding carries no information.
    Tensors are on the CPU; ``T`` is the longest (truncated) review of the batch.
    """
    indices = np.asarray(indices, dtype=np.int64)
    if indices.ndim != 1 or len(indices) == 0:
        raise ValueError(f"pad_batch needs a non-empty 1-d array of indices, got {indices.shape}")
    if max_length is not None and max_length < 1:
        raise ValueError(f"max_length must be >= 1 or None, got {max_length}")
    starts = encoded.offsets[indices]
    lengths = encoded.offsets[indices + 1] - starts
    if max_length is not None:
        lengths = np.minimum(lengths, max_length)
    width = max(int(lengths.max()), 1)
    positions = np.arange(width, dtype=np.int64)
    valid = positions[None, :] < lengths[:, None]
    ids = np.full((len(indices), width), pad_index, dtype=np.int64)
    ids[valid] = encoded.ids[(starts[:, None] + positions[None, :])[valid]]
    return (
        torch.from_numpy(ids),
        torch.from_numpy(np.maximum(lengths, 1).astype(np.int64)),
        torch.from_numpy(encoded.labels[indices].astype(np.float32)),
    )


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Copy a CPU tensor to ``device``; pinned and asynchronous when that is a GPU."""
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)
