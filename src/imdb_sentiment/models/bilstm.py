"""The (bidirectional) LSTM classifier: embedding, packed or padded LSTM, pooling, one logit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.models.base import ModelConfig, SentimentModel, check_dropout, positive_int

POOLINGS = ("last", "max", "mean", "max_mean")


@dataclass
class BiLSTMConfig(ModelConfig):
    """Shape and regularisation of :class:`SentimentLSTM` (defaults: the baseline recipe)."""

    hidden_dim: int = 256
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.5  # between LSTM layers and before the output layer
    pooling: str = "last"  # over the top layer's outputs; last: the final hidden states

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("hidden_dim", "num_layers"):
            value = getattr(self, name)
            if not positive_int(value):
                raise SettingsError(name, f"must be a positive integer, got {value!r}")
        check_dropout("dropout", self.dropout)
        if self.pooling not in POOLINGS:
            raise SettingsError("pooling", f"must be one of {list(POOLINGS)}, got {self.pooling!r}")

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def features(self) -> int:
        """Width of the pooled representation fed to the output layer."""
        width = self.hidden_dim * self.directions
        return 2 * width if self.pooling == "max_mean" else width

    def describe(self) -> str:
        kind = "bilstm" if self.bidirectional else "lstm"
        return f"{kind}-{self.num_layers}x{self.hidden_dim}-{self.pooling}"


class SentimentLSTM(SentimentModel):
    """Embedding -> dropout -> packed (Bi)LSTM -> pooling -> dropout -> one logit per review."""

    config: BiLSTMConfig

    def __init__(
        self, config: BiLSTMConfig, embedding: np.ndarray | torch.Tensor | None = None
    ) -> None:
        super().__init__(config, embedding)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(config.dropout)
        self.output = nn.Linear(config.features, 1)

    def forward(
        self, ids: torch.Tensor, lengths: torch.Tensor, packed: bool | None = None
    ) -> torch.Tensor:
        """Logits ``[B]`` for ``ids`` ``[B, T]`` (batch first) of true ``lengths`` ``[B]`` >= 1.

        ``packed`` (default: on CUDA only) runs the LSTM on a packed sequence; otherwise each
        direction runs on the padded batch, the backward one on every review reversed within
        its length. Both give the same result; packing is fast with cuDNN, but its backward
        pass on the CPU is quadratic in the sequence length, the padded run is not.
        """
        lengths = self.checked_lengths(ids, lengths)
        embedded = self.embed(ids)
        if packed is None:
            packed = embedded.is_cuda
        run = self._run_packed if packed else self._run_padded
        output, last = run(embedded, lengths)
        pooling = self.config.pooling
        if pooling == "last":
            features = torch.cat(last, dim=1)
        else:
            mask = self.step_mask(lengths, output.size(1), output.device).unsqueeze(-1)
            parts = []
            if pooling in ("max", "max_mean"):
                lowest = torch.finfo(output.dtype).min
                parts.append(output.masked_fill(~mask, lowest).amax(dim=1))
            if pooling in ("mean", "max_mean"):
                total = output.masked_fill(~mask, 0.0).sum(dim=1)
                parts.append(total / lengths.to(output.device, output.dtype)[:, None])
            features = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        return self.output(self.dropout(features)).squeeze(-1)

    def _run_packed(
        self, embedded: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Top-layer outputs ``[B, T', H * D]`` and final states of its directions."""
        packed = pack_padded_sequence(embedded, lengths, batch_first=True, enforce_sorted=False)
        output, (hidden, _) = self.lstm(packed)
        # hidden is [layers * directions, B, H], in the batch's original order.
        last = [hidden[-2], hidden[-1]] if self.config.bidirectional else [hidden[-1]]
        if self.config.pooling == "last":
            return embedded, last  # the outputs are not needed
        padded, _ = pad_packed_sequence(output, batch_first=True)
        return padded, last

    def _run_padded(
        self, embedded: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Same as :meth:`_run_packed` with the LSTM's own weights, on the padded batch.

        Padding at the end cannot reach earlier steps of the forward direction; the backward
        direction sees each review reversed within its length, so it starts at the last token.
        """
        batch, steps, _ = embedded.shape
        config = self.config
        position = torch.arange(steps)[None, :]
        valid = position < lengths[:, None]
        reverse = torch.where(valid, lengths[:, None] - 1 - position, position).to(embedded.device)
        rows = torch.arange(batch, device=embedded.device)
        ends = (lengths - 1).to(embedded.device)
        state = embedded.new_zeros(1, batch, config.hidden_dim)
        layer_input = embedded
        last: list[torch.Tensor] = []
        for layer in range(config.num_layers):
            outputs, last = [], []
            for direction in range(config.directions):
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                weights = [
                    getattr(self.lstm, f"{name}{suffix}")
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                source = _gather_steps(layer_input, reverse) if direction else layer_input
                output, _, _ = torch.lstm(
                    source, (state, state), weights, True, 1, 0.0, self.training, False, True
                )
                last.append(output[rows, ends])
                outputs.append(_gather_steps(output, reverse) if direction else output)
            layer_input = torch.cat(outputs, dim=2) if len(outputs) > 1 else outputs[0]
            if layer < config.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, config.dropout, self.training)
        return layer_input, last


def _gather_steps(values: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
    """``values[b, steps[b, t]]`` for ``values`` ``[B, T, F]`` and ``steps`` ``[B, T]``."""
    return values.gather(1, steps.unsqueeze(-1).expand(-1, -1, values.size(2)))
