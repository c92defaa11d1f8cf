"""The model registry: ``training.model.type`` names an architecture; everything goes through here.

Each architecture is one module with a config class (a :class:`ModelConfig`) and a model class
(a :class:`SentimentModel`); :data:`REGISTRY` maps its type name to both. Training, loading a
checkpoint, serving, MLflow run names and the device check build models only through these
functions. Adding an architecture: a new module, one line in ``REGISTRY``, a section under
``training.model`` in ``conf/base/parameters_training.yml`` (docs/architecture.md walks
through the CNN as the example). Torch only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from imdb_sentiment.dict_settings import SettingsError, dotted, refuse_unknown
from imdb_sentiment.models import bilstm, cnn
from imdb_sentiment.models.base import DATA_FIELDS, SHARED_FIELDS, ModelConfig, SentimentModel

CHECKPOINT_FORMAT = "imdb-sentiment-checkpoint/2"
# Checkpoints written before the registry: their format names the one architecture there was.
LEGACY_FORMATS = {"imdb-sentiment-bilstm/1": "bilstm"}


@dataclass(frozen=True)
class Architecture:
    config: type[ModelConfig]
    model: type[SentimentModel]


REGISTRY: dict[str, Architecture] = {
    "bilstm": Architecture(bilstm.BiLSTMConfig, bilstm.SentimentLSTM),
    "cnn": Architecture(cnn.CNNConfig, cnn.SentimentCNN),
}

__all__ = [
    "CHECKPOINT_FORMAT",
    "REGISTRY",
    "ModelConfig",
    "SentimentModel",
    "build_model",
    "config_from_params",
    "load_model",
    "model_checkpoint",
    "model_type",
]


def architecture(type_name: Any, key: str = "training.model.type") -> Architecture:
    """The registered architecture called ``type_name``; any other name names ``key``."""
    if type_name not in REGISTRY:
        raise SettingsError(key, f"unknown model type {type_name!r}; one of: {', '.join(REGISTRY)}")
    return REGISTRY[type_name]


def model_type(config: ModelConfig) -> str:
    """The registry name of a configuration's architecture."""
    for name, entry in REGISTRY.items():
        if type(config) is entry.config:
            return name
    raise ValueError(f"{type(config).__name__} is not a registered model configuration")


def config_from_params(params: Any, path: str = "training.model") -> ModelConfig:
    """The configuration of the architecture ``params["type"]`` names, its data fields unset.

    ``params`` is ``training.model``: ``type``, the shared fields (``embedding_dropout``,
    ``freeze_embeddings``) and one section per architecture with its own fields. Every section
    is checked, the selected one or not, so a typo anywhere is an error.
    """
    if not isinstance(params, Mapping):
        raise SettingsError(path, f"must be a mapping of settings, got {params!r}")
    refuse_unknown(params, ["type", *SHARED_FIELDS, *REGISTRY], path)
    if "type" not in params:
        raise SettingsError(dotted(path, "type"), f"is missing; one of: {', '.join(REGISTRY)}")
    architecture(params["type"], dotted(path, "type"))
    shared = {key: params[key] for key in SHARED_FIELDS if key in params}
    ModelConfig.from_dict(shared, path)  # shared values named where they are set
    configs = {}
    for name, entry in REGISTRY.items():
        section = params.get(name) or {}
        where = dotted(path, name)
        if not isinstance(section, Mapping):
            raise SettingsError(where, f"must be a mapping of settings, got {section!r}")
        for key in section:
            if key in SHARED_FIELDS:
                raise SettingsError(dotted(where, key), f"is shared: set {dotted(path, key)}")
            if key in DATA_FIELDS:
                raise SettingsError(dotted(where, key), "comes from the data, not a parameter")
        configs[name] = entry.config.from_dict({**section, **shared}, where)
    return configs[params["type"]]


def build_model(
    config: ModelConfig, embedding: np.ndarray | torch.Tensor | None = None
) -> SentimentModel:
    """A new model of ``config``'s architecture, its embedding copied from ``embedding``."""
    return REGISTRY[model_type(config)].model(config, embedding)


def model_checkpoint(model: SentimentModel, **extra: Any) -> dict[str, Any]:
    """A plain, picklable dict holding everything :func:`load_model` needs (CPU tensors)."""
    return {
        "format": CHECKPOINT_FORMAT,
        "model_type": model_type(model.config),
        "model_config": model.config.to_dict(),
        "state_dict": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
        **extra,
    }


def checkpoint_config(checkpoint: dict[str, Any]) -> ModelConfig:
    """The model configuration a checkpoint was trained with (either format)."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f"model checkpoint must be a dict, got {type(checkpoint).__name__}")
    found = checkpoint.get("format")
    if found == CHECKPOINT_FORMAT:
        type_name = checkpoint.get("model_type")
    elif found in LEGACY_FORMATS:
        type_name = LEGACY_FORMATS[found]
    else:
        raise ValueError(
            f"model checkpoint has format {found!r}, expected {CHECKPOINT_FORMAT!r}; "
            "retrain with `kedro run`"
        )
    for key in ("model_config", "state_dict"):
        if key not in checkpoint:
            raise ValueError(f"model checkpoint lacks {key!r}; retrain with `kedro run`")
    entry = architecture(type_name, "model checkpoint's model_type")
    return entry.config.from_dict(
        dict(checkpoint["model_config"]), "model checkpoint's model_config"
    )


def load_model(
    checkpoint: dict[str, Any],
    map_location: str | torch.device = "cpu",
    vocab_size: int | None = None,
) -> SentimentModel:
    """Rebuild the model of a checkpoint in eval mode; check it fits ``vocab_size`` if given."""
    config = checkpoint_config(checkpoint)
    if vocab_size is not None and vocab_size != config.vocab_size:
        raise ValueError(
            f"model was trained with a vocabulary of {config.vocab_size} words, the vocabulary "
            f"has {vocab_size}; retrain with `kedro run`"
        )
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:
        raise ValueError(
            f"model checkpoint weights do not match its model config {config.to_dict()}: {error}"
        ) from error
    return model.to(map_location).eval()
