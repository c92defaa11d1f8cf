"""REFERENCE ONLY: the baseline recipe (the tutorial's), reimplemented to be measured beside ours.

The tutorial (``../shared/seed/lstm-imdb-tutorial.txt``) used torchtext's legacy API:
``Field(tokenize="spacy")``, ``build_vocab(max_size=10000, vectors="glove.6B.100d")``,
``BucketIterator.splits(batch_size=30)`` and an ``RNN`` module (embedding -> dropout ->
2-layer BiLSTM 256, seq-first, not packed -> last hidden states of both directions ->
dropout -> linear), Adam 1e-3, ``BCEWithLogitsLoss``, fp32. torchtext's legacy API is gone
from current releases, so this module re-does what it did, step for step:

* :func:`bucket_iterator_batches`: ``BucketIterator`` (train: shuffle, pools of 100 batches
  sorted by length, batches shuffled within each pool; eval: everything sorted by length).
* :class:`BaselineBatcher`: ``Field.process`` per batch in Python (pad lists to the longest review,
  ``stoi`` lookup per token, ``torch.tensor``, transpose to ``[T, B]``) on the critical path.
* :class:`BaselineRNN`: the tutorial's module, copied.
* :func:`train_epoch` / :func:`evaluate`: the tutorial's fp32 loops (one ``.item()`` per batch).
* :func:`baseline_data_prep`: serial spaCy tokenization, ``Counter`` vocabulary, Python lists.

It reads the same :class:`EncodedReviews` and embedding matrix as ours, so tokens, vocabulary
and GloVe are identical; ids are mapped to the baseline's layout (``<unk>`` = 0, ``<pad>`` = 1;
ours is ``<pad>`` = 0, ``<unk>`` = 1) on the way in, by the per-token ``stoi`` lookup that
torchtext did anyway. Torch + numpy only at import time (spaCy/pandas only inside
:func:`baseline_data_prep`). Not part of the package.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

BASELINE_UNK, BASELINE_PAD = 0, 1  # torchtext's specials order: <unk>, <pad>
OUR_PAD, OUR_UNK = 0, 1
BATCH_SIZE = 30  # batchsz in the tutorial
POOL_BATCHES = 100  # torchtext's pool(): batch_size * 100 examples per pool
HIDDEN_DIM = 256
LEARNING_RATE = 1e-3
TORCH_SEED = 123  # torch.manual_seed(123) in the tutorial


class BaselineRNN(nn.Module):
    """The tutorial's ``RNN``, as written there (seq-first input ``[T, B]``, no padding_idx)."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=2, bidirectional=True, dropout=0.5)
        self.fc = nn.Linear(hidden_dim * 2, 1)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[T, B]`` ids -> ``[B, 1]`` logits."""
        embedding = self.dropout(self.embedding(x))
        _output, (hidden, _cell) = self.rnn(embedding)
        hidden = torch.cat([hidden[-2], hidden[-1]], dim=1)
        hidden = self.dropout(hidden)
        return self.fc(hidden)


def torch_defaults() -> None:
    """The backend as the tutorial's Colab script had it: torch's defaults, whatever ran before."""
    torch.backends.cudnn.benchmark = False
    torch.set_flush_denormal(False)


def baseline_embedding(matrix: np.ndarray) -> torch.Tensor:
    """Our embedding matrix in the baseline's row order (``<pad>`` and ``<unk>`` swapped)."""
    weights = torch.as_tensor(np.asarray(matrix, dtype=np.float32)).clone()
    weights[[BASELINE_UNK, BASELINE_PAD]] = weights[[OUR_UNK, OUR_PAD]]
    return weights


def build_baseline_model(matrix: np.ndarray, device: torch.device) -> BaselineRNN:
    """``rnn = RNN(len(TEXT.vocab), dim, 256)`` with GloVe copied in, on ``device``."""
    vocab_size, dim = matrix.shape
    model = BaselineRNN(vocab_size, dim, HIDDEN_DIM)
    model.embedding.weight.data.copy_(baseline_embedding(matrix))
    return model.to(device)


def bucket_iterator_batches(
    lengths: Sequence[int] | np.ndarray,
    batch_size: int = BATCH_SIZE,
    *,
    train: bool,
    shuffler: random.Random | None = None,
) -> list[list[int]]:
    """Example indices per batch, in the order torchtext's legacy ``BucketIterator`` gave them.

    ``train=True`` (``shuffle=True, sort=False``): shuffle the dataset, cut it into pools of
    ``100 * batch_size``, sort each pool by length (``sorted``, stable), cut into batches and
    shuffle the batches of each pool. ``train=False`` (``sort=True``): sort all by length and cut.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    lengths = [int(n) for n in lengths]
    indices = list(range(len(lengths)))
    if not train:
        ordered = sorted(indices, key=lambda i: lengths[i])
        return [ordered[i : i + batch_size] for i in range(0, len(ordered), batch_size)]
    shuffler = shuffler or random.Random()
    shuffler.shuffle(indices)
    batches: list[list[int]] = []
    pool_size = batch_size * POOL_BATCHES
    for start in range(0, len(indices), pool_size):
        pool = sorted(indices[start : start + pool_size], key=lambda i: lengths[i])
        pool_batches = [pool[i : i + batch_size] for i in range(0, len(pool), batch_size)]
        shuffler.shuffle(pool_batches)
        batches.extend(pool_batches)
    return batches


@dataclass
class BaselineBatcher:
    """``Field.process`` + ``LabelField`` per batch, in Python as torchtext did it."""

    ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    vocab_size: int

    def __post_init__(self) -> None:
        # the baseline's stoi, keyed by our ids: swaps <pad> and <unk>, keeps the rest.
        self.stoi = {i: i for i in range(self.vocab_size)}
        self.stoi[OUR_PAD], self.stoi[OUR_UNK] = BASELINE_PAD, BASELINE_UNK

    @classmethod
    def from_encoded(cls, encoded: Any, vocab_size: int) -> BaselineBatcher:
        return cls(encoded.ids, encoded.offsets, encoded.labels, vocab_size)

    def __call__(
        self, batch: Sequence[int], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(text [T, B] int64, label [B] float32)`` on ``device``, padded to the longest."""
        examples = [self.ids[self.offsets[i] : self.offsets[i + 1]].tolist() for i in batch]
        max_len = max(1, *(len(x) for x in examples))
        padded = [x + [OUR_PAD] * (max_len - len(x)) for x in examples]
        arr = [[self.stoi[x] for x in ex] for ex in padded]
        text = torch.tensor(arr, dtype=torch.long, device=device)
        text = text.t_().contiguous()
        label = torch.tensor(
            [float(self.labels[i]) for i in batch], dtype=torch.float, device=device
        )
        return text, label


def binary_acc(preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The tutorial's accuracy of one batch."""
    preds = torch.round(torch.sigmoid(preds))
    correct = torch.eq(preds, y).float()
    return correct.sum() / len(correct)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_epoch(  # noqa: PLR0917
    model: BaselineRNN,
    batcher: BaselineBatcher,
    batches: list[list[int]],
    optimizer: torch.optim.Optimizer,
    criterion: nn.Module,
    device: torch.device,
) -> dict[str, float]:
    """The tutorial's ``train()`` over ``batches``; wall seconds (synchronised) and reviews seen."""
    avg_acc = []
    model.train()
    _sync(device)
    started = time.perf_counter()
    seen = 0
    for batch in batches:
        text, label = batcher(batch, device)
        pred = model(text).squeeze(1)
        loss = criterion(pred, label)
        acc = binary_acc(pred, label).item()
        avg_acc.append(acc)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        seen += len(batch)
    _sync(device)
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "reviews": seen,
        "batches": len(batches),
        "reviews_per_s": seen / seconds if seconds > 0 else float("nan"),
        "train_accuracy": float(np.mean(avg_acc)) if avg_acc else float("nan"),
    }


def evaluate(
    model: BaselineRNN,
    batcher: BaselineBatcher,
    batches: list[list[int]],
    device: torch.device,
) -> dict[str, Any]:
    """The tutorial's ``eval()``: fp32, no grad, one ``.item()`` per batch; input-order logits."""
    model.eval()
    n = sum(len(b) for b in batches)
    logits = np.full(len(batcher.labels), np.nan, np.float32)
    _sync(device)
    started = time.perf_counter()
    avg_acc = []
    with torch.no_grad():
        for batch in batches:
            text, label = batcher(batch, device)
            pred = model(text).squeeze(1)
            avg_acc.append(binary_acc(pred, label).item())
            logits[batch] = pred.cpu().numpy()
    _sync(device)
    seconds = time.perf_counter() - started
    seen = np.concatenate([np.asarray(b, dtype=np.int64) for b in batches]) if batches else []
    labels = batcher.labels[seen]
    accuracy = float(np.mean((logits[seen] >= 0) == (labels == 1))) if n else float("nan")
    return {
        "seconds": seconds,
        "reviews": n,
        "reviews_per_s": n / seconds if seconds > 0 else float("nan"),
        "accuracy": accuracy,
        "baseline_batch_mean_accuracy": float(np.mean(avg_acc)) if avg_acc else float("nan"),
    }


# --------------------------------------------------------------------------- data preparation


def baseline_data_prep(
    data_dir: str | Path, *, limit: int | None = None, max_size: int = 10_000
) -> dict[str, Any]:
    """The baseline's data preparation, timed: parquet -> serial spaCy -> Counter vocab -> ids.

    torchtext tokenized every review with spaCy's English tokenizer in one process, kept each as
    a Python list of strings, counted words with a ``Counter`` (ties sorted alphabetically),
    and looked every token up in ``stoi``. ``blank:en`` has the tokenizer rules of
    ``en_core_web_sm`` (the tutorial's model, not installed here). ``limit`` takes the first
    ``limit`` reviews of each split (for a quick rate). Returns figures and the id lists.
    """
    import pandas as pd  # noqa: PLC0415 - only the data-prep reference needs them
    import spacy  # noqa: PLC0415

    data_dir = Path(data_dir)
    started = time.perf_counter()
    frames = {}
    for split in ("train", "test"):
        path = data_dir / f"{split}.parquet"
        if not path.is_file():
            raise FileNotFoundError(f"baseline_data_prep: {path} does not exist")
        frame = pd.read_parquet(path, columns=["text", "label"])
        frames[split] = frame.iloc[:limit] if limit else frame
    read_s = time.perf_counter() - started
    mark = time.perf_counter()
    tokenizer = spacy.blank("en").tokenizer
    tokens = {
        split: [[tok.text for tok in tokenizer(text)] for text in frame["text"].tolist()]
        for split, frame in frames.items()
    }
    tokenize_s = time.perf_counter() - mark
    mark = time.perf_counter()
    counter: Counter[str] = Counter()
    for review in tokens["train"]:
        counter.update(review)
    ranked = sorted(counter.items(), key=lambda item: item[0])
    ranked.sort(key=lambda item: item[1], reverse=True)
    itos = ["<unk>", "<pad>"] + [word for word, _ in ranked[:max_size]]
    stoi = {word: index for index, word in enumerate(itos)}
    vocab_s = time.perf_counter() - mark
    mark = time.perf_counter()
    ids = {
        split: [[stoi.get(word, BASELINE_UNK) for word in review] for review in reviews]
        for split, reviews in tokens.items()
    }
    encode_s = time.perf_counter() - mark
    wall = time.perf_counter() - started
    n_tokens = sum(len(r) for reviews in tokens.values() for r in reviews)
    return {
        "reviews": sum(len(f) for f in frames.values()),
        "tokens": n_tokens,
        "vocabulary_size": len(itos),
        "wall_s": wall,
        "tokens_per_s": n_tokens / wall,
        "read_parquet_s": read_s,
        "tokenize_s": tokenize_s,
        "vocabulary_s": vocab_s,
        "encode_s": encode_s,
        "itos": itos,
        "ids": ids,
        "labels": {
            split: frame["label"].to_numpy(dtype=np.int8) for split, frame in frames.items()
        },
    }
