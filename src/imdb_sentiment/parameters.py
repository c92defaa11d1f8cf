"""Every pipeline's parameters, typed, and one check of the whole tree before a run starts.

Each section of ``conf/*/parameters_<pipeline>.yml`` has a settings class; the nodes build it
from their ``params:<section>`` input, and :func:`validate_parameters` (called by the project's
hook when Kedro creates the context) checks all of them at once, whichever pipelines run, so
``kedro run --pipeline=evaluate --params trainig.epochs=1`` fails before any node runs. An
unknown key or a bad value is a :class:`~imdb_sentiment.dict_settings.SettingsError` naming
its dotted key. ``training`` is checked by the library's own settings
(:func:`imdb_sentiment.training.settings_from_params`), which the GPU machine uses without Kedro,
and ``training.distributed`` (single process or Ray) by
:class:`imdb_sentiment.distributed.DistributedSettings`.

Kedro 1.7 can also build dataclasses from node type hints; that validates only the pipelines
being run, one level deep, and kedro-mlflow would log the objects instead of their values, so
the nodes take plain dicts and build their settings themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from imdb_sentiment.calibration import ECE_BINS
from imdb_sentiment.dict_settings import DictSettings, SettingsError, check_value, refuse_unknown
from imdb_sentiment.distributed import DistributedSettings
from imdb_sentiment.linear_baselines import NBSVMSettings, TfidfLRSettings
from imdb_sentiment.models import ModelConfig
from imdb_sentiment.text import DEFAULT_MAX_CACHED_PIECES, TokenizerConfig
from imdb_sentiment.training import TrainConfig, settings_from_params

LEARNING_RATE_WARNING = 1.0  # above this, Adam on this model diverges or stalls at chance
# Above this the adversarial perturbation outweighs the review's own embedding (relative norm).
ADVERSARIAL_EPSILON_WARNING = 1.0
# Runtime-only parameters (`kedro run --params KEY=...`): the catalog entry and the field of it
# that reads them through `${runtime_params:KEY, default}`.
RUNTIME_SOURCES = {
    "imdb_source": ("imdb_raw", "source"),
    "glove_source": ("glove_vectors", "source"),
    "extra_test_source": ("extra_test_reviews", "source"),
    "predict_source": ("reviews_to_score", "source"),
    "model_uri": ("scoring_model", "model_uri"),
}


def _positive(key: str, value: int) -> None:
    if value < 1:
        raise SettingsError(key, f"must be >= 1, got {value}")


@dataclass
class IngestionSettings(DictSettings):
    valid_fraction: float = 0.1  # share of train carved out (stratified) as validation
    seed: int = 42  # of that split
    clean_splits: bool = True  # drop train texts found in test and repeated train texts

    def __post_init__(self) -> None:
        if not 0.0 < self.valid_fraction < 1.0:
            raise SettingsError("valid_fraction", f"must be in (0, 1), got {self.valid_fraction}")


@dataclass
class TokenizationSettings(DictSettings):
    spacy_model: str = "blank:en"  # "blank:<lang>" or an installed spaCy model
    lowercase: bool = True
    n_workers: int = 1  # forked tokenizer processes; 1 tokenizes in the calling process
    chunk_size: int = 20_000  # distinct space-separated pieces per task handed to a worker
    max_cached_pieces: int = DEFAULT_MAX_CACHED_PIECES  # distinct pieces whose tokens are kept

    def __post_init__(self) -> None:
        _positive("n_workers", self.n_workers)
        _positive("chunk_size", self.chunk_size)
        _positive("max_cached_pieces", self.max_cached_pieces)

    @property
    def tokenizer(self) -> TokenizerConfig:
        """What decides the tokens (recorded in the vocabulary), without the driver knobs."""
        return TokenizerConfig(spacy_model=self.spacy_model, lowercase=self.lowercase)


@dataclass
class FeaturesSettings(DictSettings):
    max_size: int | None = None  # words besides <pad> and <unk>; None: no cap
    min_freq: int = 1
    unknown_init: Literal["zeros", "random"] = "zeros"  # vectors of words GloVe lacks
    unknown_init_std: float = 0.1
    seed: int = 0  # of the random unknown_init
    lowercase_fallback: bool = False  # look a word up lowercased when GloVe lacks it

    def __post_init__(self) -> None:
        if self.max_size is not None:
            _positive("max_size", self.max_size)
        _positive("min_freq", self.min_freq)
        if not self.unknown_init_std > 0:
            raise SettingsError("unknown_init_std", f"must be > 0, got {self.unknown_init_std}")


@dataclass
class EvaluateSettings(DictSettings):
    threshold: float = 0.5  # probability at or above which a review is called positive
    batch_size: int = 512
    device: str = "auto"
    bf16: bool = False
    ece_bins: int = ECE_BINS  # equal-width confidence bins of the expected calibration error

    def __post_init__(self) -> None:
        if not 0.0 <= self.threshold <= 1.0:
            raise SettingsError("threshold", f"must be in [0, 1], got {self.threshold}")
        _positive("batch_size", self.batch_size)
        _positive("ece_bins", self.ece_bins)


@dataclass
class BaselinesSettings(DictSettings):
    """The linear baselines, each with its features and the grid chosen on validation."""

    tfidf_lr: TfidfLRSettings = field(default_factory=TfidfLRSettings)
    nbsvm: NBSVMSettings = field(default_factory=NBSVMSettings)


def training_settings(
    params: Any, path: str = "training"
) -> tuple[TrainConfig, ModelConfig, DistributedSettings]:
    """``training``: the loop's settings, the model's configuration and where training runs
    (``training.distributed``, whose device must agree with ``training.device``)."""
    loop, model = settings_from_params(params, path)
    distributed = DistributedSettings.from_dict(
        params.get("distributed") or {}, f"{path}.distributed"
    )
    try:
        distributed.check_device(loop.device)
    except SettingsError as error:
        raise error.under(path) from None
    return loop, model, distributed


@dataclass
class PredictSettings(DictSettings):
    text_column: str = "text"  # the column holding the review text
    id_column: str = "id"  # kept beside each prediction; the row number where absent
    batch_size: int = 64  # reviews per forward pass
    device: str = "cpu"
    chunk_size: int = 2000  # reviews tokenized per task
    n_workers: int = 1  # forked tokenizer processes beside the scoring one; 0: in-process
    torch_threads: int | None = 1  # threads of the network; None: torch's default (all cores)
    progress: bool = True  # a bar on a terminal, else a log line every log_every_seconds
    log_every_seconds: float = 10.0

    def __post_init__(self) -> None:
        _positive("batch_size", self.batch_size)
        _positive("chunk_size", self.chunk_size)
        if self.torch_threads is not None:
            _positive("torch_threads", self.torch_threads)
        if self.n_workers < 0:
            raise SettingsError("n_workers", f"must be >= 0, got {self.n_workers}")
        if not self.log_every_seconds > 0:
            raise SettingsError("log_every_seconds", f"must be > 0, got {self.log_every_seconds}")


SECTIONS: dict[str, Callable[[Any, str], Any]] = {
    "ingestion": IngestionSettings.from_dict,
    "tokenization": TokenizationSettings.from_dict,
    "features": FeaturesSettings.from_dict,
    "training": training_settings,
    "evaluate": EvaluateSettings.from_dict,
    "baselines": BaselinesSettings.from_dict,
    "predict": PredictSettings.from_dict,
}
TOP_LEVEL = {"seed": int}  # one seed, interpolated into the sections that need one


def validate_parameters(
    params: Mapping[str, Any],
    runtime_params: Mapping[str, Any],
    catalog: Mapping[str, Any],
    env: str,
) -> list[str]:
    """Check the whole parameter tree; raise on the first problem, return warnings.

    ``params`` are the merged parameters (runtime ones included), ``runtime_params`` what
    ``--params`` gave, ``catalog`` the resolved catalog configuration of ``env``.
    """
    refuse_unknown(params, [*TOP_LEVEL, *SECTIONS, *RUNTIME_SOURCES], "")
    for key, kind in TOP_LEVEL.items():
        if key not in params:
            raise SettingsError(key, "is missing")
        check_value(kind, params[key], key)
    for name, settings in SECTIONS.items():
        if name not in params:
            raise SettingsError(name, "is missing")
        settings(params[name], name)
    for key, (dataset, reading_field) in RUNTIME_SOURCES.items():
        _check_runtime_source(key, dataset, reading_field, params, runtime_params, catalog, env)
    return _warnings(params, runtime_params)


def _check_runtime_source(  # noqa: PLR0917
    key: str,
    dataset: str,
    reading_field: str,
    params: Mapping[str, Any],
    runtime_params: Mapping[str, Any],
    catalog: Mapping[str, Any],
    env: str,
) -> None:
    """A source parameter must come from ``--params`` and be what the catalog reads."""
    if key not in params:
        return
    if key not in runtime_params:
        raise SettingsError(
            key, f"is read from `kedro run --params {key}=...` only, not from parameter files"
        )
    value = runtime_params[key]
    # a string from `--params`; a Path where a session is created in Python
    if not isinstance(value, str | os.PathLike) or not str(value).strip():
        raise SettingsError(key, f"must be a path or URI, got {value!r}")
    source = (catalog.get(dataset) or {}).get(reading_field)
    if str(source) != str(value):
        raise SettingsError(
            key,
            f"has no effect in environment {env!r}: its catalog takes {dataset} from "
            f"{source!r}; use an environment that reads {key} (e.g. --env=full)",
        )


def _flat(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(_flat(value, name))
        else:
            flat[name] = value
    return flat


def _warnings(params: Mapping[str, Any], runtime_params: Mapping[str, Any]) -> list[str]:
    """Values that are valid but almost certainly not meant."""
    found = []
    rate = params["training"].get("learning_rate")
    if isinstance(rate, int | float) and rate > LEARNING_RATE_WARNING:
        found.append(
            f"training.learning_rate={rate} is above {LEARNING_RATE_WARNING}: Adam on this "
            "model will most likely diverge or stay at chance (usual: 1e-4 to 1e-2)"
        )
    epsilon = params["training"].get("adversarial_epsilon")
    if isinstance(epsilon, int | float) and epsilon > ADVERSARIAL_EPSILON_WARNING:
        found.append(
            f"training.adversarial_epsilon={epsilon} is above {ADVERSARIAL_EPSILON_WARNING}: "
            "the perturbation is larger than the embedded review itself, no longer a small "
            "step along the gradient (chosen on validation: 0.02)"
        )
    selected = params["training"]["model"]["type"]
    for key in _flat(runtime_params):
        parts = key.split(".")
        if parts[:2] == ["training", "model"] and len(parts) > 3 and parts[2] != selected:
            found.append(f"{key} has no effect: training.model.type is {selected!r}")
    return found
