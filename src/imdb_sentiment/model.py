"""The BiLSTM sentiment classifier, its configuration and its checkpoints (torch only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from imdb_sentiment.dict_settings import DictSettings

CHECKPOINT_FORMAT = "imdb-sentiment-bilstm/1"
POOLINGS = ("last", "max", "mean", "max_mean")


@dataclass
class ModelConfig(DictSettings):
    """Shape and regularisation of :class:`SentimentLSTM`; stored in every checkpoint."""

    vocab_size: int
    embedding_dim: int
    hidden_dim: int = 256
    num_layers: int = 2
    bidirectional: bool = True
    dropout: float = 0.5
    embedding_dropout: float = 0.5
    pooling: str = "last"
    freeze_embeddings: bool = False
    padding_idx: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "embedding_dim", "hidden_dim", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"ModelConfig.{name} must be a positive integer, got {value!r}")
        for name in ("dropout", "embedding_dropout"):
            value = getattr(self, name)
            if not 0.0 <= float(value) < 1.0:
                raise ValueError(f"ModelConfig.{name} must be in [0, 1), got {value!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(
                f"ModelConfig.pooling must be one of {list(POOLINGS)}, got {self.pooling!r}"
            )
        if not 0 <= self.padding_idx < self.vocab_size:
            raise ValueError(
                f"ModelConfig.padding_idx {self.padding_idx} is outside the vocabulary "
                f"of {self.vocab_size} words"
            )

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def features(self) -> int:
        """Width of the pooled representation fed to the output layer."""
        width = self.hidden_dim * self.directions
        return 2 * width if self.pooling == "max_mean" else width


class SentimentLSTM(nn.Module):
    """Embedding -> dropout -> packed (Bi)LSTM -> pooling -> dropout -> one logit per review."""

    def __init__(
        self, config: ModelConfig, embedding: np.ndarray | torch.Tensor | None = None
    ) -> None:
        super().__init__()
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
        lengths = lengths.detach().to("cpu", torch.int64)
        if lengths.numel() and int(lengths.min()) < 1:
            raise ValueError("SentimentLSTM: every review needs at least one token (length >= 1)")
        if int(lengths.max()) > ids.size(1):
            raise ValueError(
                f"SentimentLSTM: lengths up to {int(lengths.max())} exceed the {ids.size(1)} "
                "columns of ids"
            )
        embedded = self.embedding_dropout(self.embedding(ids))
        if packed is None:
            packed = embedded.is_cuda
        run = self._run_packed if packed else self._run_padded
        output, last = run(embedded, lengths)
        pooling = self.config.pooling
        if pooling == "last":
            features = torch.cat(last, dim=1)
        else:
            mask = (
                torch.arange(output.size(1), device=output.device)[None, :]
                < lengths.to(output.device)[:, None]
            )
            mask = mask.unsqueeze(-1)
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


def model_checkpoint(model: SentimentLSTM, **extra: Any) -> dict[str, Any]:
    """A plain, picklable dict holding everything :func:`load_model` needs (CPU tensors)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
        **extra,
    }


def load_model(
    checkpoint: dict[str, Any],
    map_location: str | torch.device = "cpu",
    vocab_size: int | None = None,
) -> SentimentLSTM:
    """Rebuild the model of a checkpoint in eval mode; check it fits ``vocab_size`` if given."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f"model checkpoint must be a dict, got {type(checkpoint).__name__}")
    found = checkpoint.get("format")
    if found != CHECKPOINT_FORMAT:
        raise ValueError(
            f"model checkpoint has format {found!r}, expected {CHECKPOINT_FORMAT!r}; "
            "retrain with `kedro run`"
        )
    for key in ("model_config", "state_dict"):
        if key not in checkpoint:
            raise ValueError(f"model checkpoint lacks {key!r}; retrain with `kedro run`")
    config = ModelConfig.from_dict(dict(checkpoint["model_config"]))
    if vocab_size is not None and vocab_size != config.vocab_size:
        raise ValueError(
            f"model was trained with a vocabulary of {config.vocab_size} words, the vocabulary "
            f"has {vocab_size}; retrain with `kedro run`"
        )
    model = SentimentLSTM(config)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise ValueError(
            f"model checkpoint weights do not match its model config {config.to_dict()}: {error}"
        ) from error
    return model.to(map_location).eval()
