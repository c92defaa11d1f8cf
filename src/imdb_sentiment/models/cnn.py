"""A convolutional classifier over the same embeddings (Kim, 2014, "Convolutional Neural
Networks for Sentence Classification"): parallel 1-d convolutions of several widths, ReLU,
max over time within each review's length, dropout, one logit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.models.base import ModelConfig, SentimentModel, check_dropout, positive_int


@dataclass
class CNNConfig(ModelConfig):
    """Filter widths (tokens), filters per width, dropout before the output layer."""

    filter_sizes: tuple[int, ...] = (3, 4, 5)
    num_filters: int = 100
    dropout: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        self.filter_sizes = tuple(self.filter_sizes)
        if not self.filter_sizes or not all(positive_int(size) for size in self.filter_sizes):
            raise SettingsError(
                "filter_sizes",
                f"must be a non-empty list of positive integers, got {self.filter_sizes!r}",
            )
        if not positive_int(self.num_filters):
            raise SettingsError(
                "num_filters", f"must be a positive integer, got {self.num_filters!r}"
            )
        check_dropout("dropout", self.dropout)

    def describe(self) -> str:
        return f"cnn-{'.'.join(str(size) for size in self.filter_sizes)}x{self.num_filters}"


class SentimentCNN(SentimentModel):
    """Embedding -> dropout -> conv per width -> ReLU -> masked max over time -> dropout -> logit.

    Positions past a review's length are zeroed before the convolutions, and a window counts
    only if it starts inside the review and fits in it; a review shorter than a filter keeps
    the one window at its start (padded with zeros). So a review scores the same alone or in
    any batch.
    """

    config: CNNConfig

    def __init__(
        self, config: CNNConfig, embedding: np.ndarray | torch.Tensor | None = None
    ) -> None:
        super().__init__(config, embedding)
        self.convs = nn.ModuleList(
            nn.Conv1d(config.embedding_dim, config.num_filters, size)
            for size in config.filter_sizes
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.num_filters * len(config.filter_sizes), 1)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits ``[B]`` for ``ids`` ``[B, T]`` of true ``lengths`` ``[B]`` >= 1."""
        lengths = self.checked_lengths(ids, lengths)
        embedded = self.embed(ids)
        inside = self.step_mask(lengths, ids.size(1), embedded.device)
        embedded = embedded.masked_fill(~inside.unsqueeze(-1), 0.0)
        widest = max(self.config.filter_sizes)
        if embedded.size(1) < widest:
            embedded = nn.functional.pad(embedded, (0, 0, 0, widest - embedded.size(1)))
        channels = embedded.transpose(1, 2)  # [B, E, T]
        pooled = []
        for conv, size in zip(self.convs, self.config.filter_sizes, strict=True):
            activations = torch.relu(conv(channels))  # [B, F, T - size + 1]
            windows = torch.clamp(lengths - size + 1, min=1)
            valid = self.step_mask(windows, activations.size(2), activations.device)
            # ReLU outputs are >= 0, so a zero in the windows left out never wins the max
            pooled.append(activations.masked_fill(~valid.unsqueeze(1), 0.0).amax(dim=2))
        features = torch.cat(pooled, dim=1)
        return self.output(self.dropout(features)).squeeze(-1)
