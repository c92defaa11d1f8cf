"""What every architecture shares: the configuration fields, the embedding, the contract.

Contract: ``model(ids [B, T] int64, lengths [B] int64) -> logits [B]``, batch first, each review
``ids[b, :lengths[b]]`` followed by padding, every length >= 1. Torch only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Self

import numpy as np
import torch
from torch import nn

from imdb_sentiment.dict_settings import DictSettings, SettingsError

# Known only once the features exist: set by the training node, stored in every checkpoint.
DATA_FIELDS = ("vocab_size", "embedding_dim", "padding_idx")
# Set once under `training.model` in the parameters, whatever the architecture.
SHARED_FIELDS = ("embedding_dropout", "freeze_embeddings")


def positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def check_dropout(name: str, value: float) -> None:
    if not 0.0 <= float(value) < 1.0:
        raise SettingsError(name, f"must be in [0, 1), got {value!r}")


@dataclass
class ModelConfig(DictSettings):
    """Fields of every architecture; each one subclasses it with its own (all with defaults).

    The data fields stay None in parameters and are filled by :meth:`for_data`.
    """

    vocab_size: int | None = None
    embedding_dim: int | None = None
    padding_idx: int | None = None
    embedding_dropout: float = 0.5
    freeze_embeddings: bool = False

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding_dim"):
            value = getattr(self, name)
            if value is not None and not positive_int(value):
                raise SettingsError(name, f"must be a positive integer, got {value!r}")
        known = self.padding_idx is not None and self.vocab_size is not None
        if known and not 0 <= self.padding_idx < self.vocab_size:
            raise SettingsError(
                "padding_idx",
                f"{self.padding_idx} is outside the vocabulary of {self.vocab_size} words",
            )
        check_dropout("embedding_dropout", self.embedding_dropout)

    def for_data(self, vocab_size: int, embedding_dim: int, padding_idx: int) -> Self:
        """This configuration for a vocabulary and an embedding matrix."""
        return replace(
            self, vocab_size=vocab_size, embedding_dim=embedding_dim, padding_idx=padding_idx
        )

    def describe(self) -> str:
        """A short name for run names, e.g. ``bilstm-1x64-max_mean``."""
        raise NotImplementedError


class SentimentModel(nn.Module):
    """Base of every architecture: the (pretrained) embedding and its dropout.

    Subclasses build their layers after calling ``super().__init__`` and implement ``forward``.
    """

    config: ModelConfig

    def __init__(
        self, config: ModelConfig, embedding: np.ndarray | torch.Tensor | None = None
    ) -> None:
        super().__init__()
        missing = [name for name in DATA_FIELDS if getattr(config, name) is None]
        if missing:
            raise ValueError(
                f"{type(self).__name__}: the model config lacks {missing}; "
                "set them with config.for_data(...)"
            )
        self.config = config
        self.embedding = nn.Embedding(
            config.vocab_size, config.embedding_dim, padding_idx=config.padding_idx
        )
        if embedding is not None:
            weights = torch.as_tensor(embedding)
            expected = (config.vocab_size, config.embedding_dim)
            if tuple(weights.shape) != expected:
                raise ValueError(
                    f"embedding matrix has shape {tuple(weights.shape)}, the model config "
                    f"expects [vocab_size, embedding_dim] = {list(expected)}"
                )
            with torch.no_grad():
                self.embedding.weight.copy_(weights.to(torch.float32))
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.embedding_dropout = nn.Dropout(config.embedding_dropout)
        # Adversarial training (training.adversarial_epsilon): see embed().
        self.keep_embedded = False  # set by keeping_embedded()
        self.embedded: torch.Tensor | None = None
        self.embedding_perturbation: torch.Tensor | None = None

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """The embedded tokens ``[B, T, E]`` after the embedding dropout.

        The seam adversarial training needs (Miyato et al. 2017): while
        ``embedding_perturbation`` is set it is added to the embedded tokens (before the
        dropout); while ``keep_embedded`` is on and gradients are recorded, the embedded tokens
        are kept in ``embedded`` with their gradient retained, so that a backward pass leaves
        the loss's gradient with respect to them in ``embedded.grad``. With neither, this is
        the embedding and its dropout, nothing else.
        """
        embedded = self.embedding(ids)
        if self.embedding_perturbation is not None:
            embedded = embedded + self.embedding_perturbation
        elif self.keep_embedded and torch.is_grad_enabled():
            if embedded.requires_grad:
                embedded.retain_grad()
            else:  # frozen embeddings: the output is a leaf of its own
                embedded.requires_grad_()
            self.embedded = embedded
        return self.embedding_dropout(embedded)

    @contextmanager
    def keeping_embedded(self, keep: bool = True) -> Iterator[None]:
        """Within: forward passes keep their embedded tokens (see :meth:`embed`)."""
        self.keep_embedded, self.embedded = keep, None
        try:
            yield
        finally:
            self.keep_embedded = False

    def checked_lengths(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``lengths`` as a CPU int64 tensor, each in ``[1, ids.size(1)]``."""
        lengths = lengths.detach().to("cpu", torch.int64)
        name = type(self).__name__
        if lengths.numel() and int(lengths.min()) < 1:
            raise ValueError(f"{name}: every review needs at least one token (length >= 1)")
        if lengths.numel() and int(lengths.max()) > ids.size(1):
            raise ValueError(
                f"{name}: lengths up to {int(lengths.max())} exceed the {ids.size(1)} "
                "columns of ids"
            )
        return lengths

    @staticmethod
    def step_mask(lengths: torch.Tensor, steps: int, device: torch.device) -> torch.Tensor:
        """``[B, steps]`` bool: True where position ``t`` < the review's length."""
        return torch.arange(steps, device=device)[None, :] < lengths.to(device)[:, None]
