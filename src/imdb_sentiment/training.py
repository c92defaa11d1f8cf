"""Training loop: epochs, best-on-validation, early stopping, NaN and Ctrl-C handling.

The same loop runs alone or as one of several data-parallel replicas (:class:`Replica`: DDP,
set up by a launcher such as :mod:`imdb_sentiment.distributed` on Ray). Torch + numpy only
(a progress bar or log lines). Never sees the test split.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from imdb_sentiment.batching import bucket_batches, pad_batch, to_device
from imdb_sentiment.dict_settings import DictSettings, SettingsError
from imdb_sentiment.inference import (
    autocast,
    predict_logits,
    resolve_device,
    tune_backend,
    use_bf16,
)
from imdb_sentiment.models import (
    ModelConfig,
    SentimentModel,
    build_model,
    config_from_params,
    model_checkpoint,
)
from imdb_sentiment.models.base import positive_int
from imdb_sentiment.progress import Progress
from imdb_sentiment.sequences import EncodedReviews

logger = logging.getLogger(__name__)

STOP_REASONS = ("completed", "early_stopping", "nan_loss", "interrupted")
LR_SCHEDULES = ("constant", "cosine")
# Sections of the `training` parameters that are not loop settings: the model's, checked by the
# registry, and where training runs (single process or Ray), checked by parameters.py.
OWN_SECTIONS = ("model", "distributed")

EpochCallback = Callable[[dict[str, Any]], None]  # called with each epoch's record


@dataclass
class TrainConfig(DictSettings):
    """Knobs of :func:`train_model`."""

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    # constant: learning_rate throughout; cosine: from learning_rate down to 0 at the end of the
    # last epoch (cosine annealing, Loshchilov & Hutter 2017), stepped every batch
    lr_schedule: str = "constant"
    # Validate and keep an exponential moving average of the weights (Polyak averaging), updated
    # after every optimiser step with this decay (e.g. 0.99: about the last 100 steps), instead
    # of the weights themselves; null: off.
    weight_average_decay: float | None = None
    weight_decay: float = 0.0
    grad_clip: float | None = 5.0
    patience: int = 3
    device: str = "auto"
    bf16: bool = True
    seed: int = 42
    max_length: int | None = None
    # Adversarial training on the embedded tokens (Miyato et al. 2017): each step adds the loss
    # of the batch perturbed along the loss gradient, the perturbation of a review an L2 norm of
    # adversarial_epsilon times that of its embedded tokens. 0: off.
    adversarial_epsilon: float = 0.0
    pool_batches: int = 100
    eval_batch_size: int = 256
    # torch's threads while training in this process (None: torch's default, every core). A
    # Ray worker uses distributed.cpus_per_worker instead.
    torch_threads: int | None = None
    # a bar on a terminal; elsewhere a log line every log_every_seconds or log_every_batches
    progress: bool = True
    log_every_seconds: float | None = 30.0
    log_every_batches: int | None = None

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "pool_batches", "eval_batch_size"):
            value = getattr(self, name)
            if not positive_int(value):
                raise SettingsError(name, f"must be a positive integer, got {value!r}")
        if not self.learning_rate > 0:
            raise SettingsError("learning_rate", f"must be > 0, got {self.learning_rate}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise SettingsError(
                "lr_schedule", f"must be one of {list(LR_SCHEDULES)}, got {self.lr_schedule!r}"
            )
        if self.weight_average_decay is not None and not 0.0 < self.weight_average_decay < 1.0:
            raise SettingsError(
                "weight_average_decay",
                f"must be in (0, 1) or null (no averaging), got {self.weight_average_decay}",
            )
        if self.weight_decay < 0:
            raise SettingsError("weight_decay", f"must be >= 0, got {self.weight_decay}")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise SettingsError("grad_clip", f"must be > 0 or null, got {self.grad_clip}")
        if self.max_length is not None and self.max_length < 1:
            raise SettingsError("max_length", f"must be >= 1 or null, got {self.max_length}")
        if not 0.0 <= self.adversarial_epsilon < math.inf:
            raise SettingsError(
                "adversarial_epsilon",
                f"must be a finite number >= 0 (0: no adversarial training), "
                f"got {self.adversarial_epsilon}",
            )
        if self.torch_threads is not None and not positive_int(self.torch_threads):
            raise SettingsError(
                "torch_threads", f"must be a positive integer or null, got {self.torch_threads!r}"
            )
        if self.log_every_seconds is not None and not self.log_every_seconds > 0:
            raise SettingsError(
                "log_every_seconds", f"must be > 0 or null, got {self.log_every_seconds}"
            )
        if self.log_every_batches is not None and self.log_every_batches < 1:
            raise SettingsError(
                "log_every_batches", f"must be >= 1 or null, got {self.log_every_batches}"
            )


def settings_from_params(
    params: Mapping[str, Any], path: str = "training"
) -> tuple[TrainConfig, ModelConfig]:
    """The ``training`` parameters as the loop's settings and the model's configuration
    (its data fields unset); errors name the dotted key under ``path``. ``distributed`` is left
    to :mod:`imdb_sentiment.parameters` (where training runs is no setting of the loop)."""
    if not isinstance(params, Mapping):
        raise SettingsError(path, f"must be a mapping of settings, got {params!r}")
    loop = TrainConfig.from_dict({k: v for k, v in params.items() if k not in OWN_SECTIONS}, path)
    model = config_from_params(params.get("model", {}), f"{path}.model")
    return loop, model


@dataclass
class TrainingResult:
    """What :func:`train_model` returns; ``checkpoint`` is None when no epoch completed.

    ``best_valid_logits`` are the validation split's logits of the kept epoch's model, in the
    split's order (for fitting a temperature without another pass).
    """

    checkpoint: dict[str, Any] | None
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_valid_accuracy: float | None
    stop_reason: str
    best_valid_logits: np.ndarray | None = None
    device: str = "cpu"  # where the model was trained (the first replica's device)


@dataclass
class Replica:
    """Where :func:`train_model` runs: alone (the default) or as replica ``rank`` of
    ``world_size`` data-parallel copies in an initialised ``torch.distributed`` process group.

    Every replica runs the same loop with the same seed, so all draw the same batch plan: each
    trains on its share of every epoch's batches (``wrap`` makes the model a
    DistributedDataParallel, which averages the gradients), validates its share of the
    validation batches, and the running loss, the epoch totals and the validation logits are
    summed over all replicas. So every replica sees the same metrics and makes the same
    early-stopping, best-epoch and NaN decisions, and none waits for a collective call that
    another skipped.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None  # None: TrainConfig.device
    wrap: Callable[[nn.Module], nn.Module] | None = None  # e.g. ray.train.torch.prepare_model

    def share(self, batches: list[np.ndarray]) -> list[np.ndarray]:
        """This replica's batches: every ``world_size``-th, the same number for every replica
        (the last ``len(batches) % world_size`` are left out, like DistributedSampler's
        ``drop_last``; the batch order is shuffled each epoch, so they differ each time)."""
        steps = len(batches) // self.world_size
        return batches[self.rank : steps * self.world_size : self.world_size]

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """``values`` summed over every replica, in place (a no-op alone)."""
        if self.world_size > 1:
            torch.distributed.all_reduce(values)
        return values


ALONE = Replica()


def unwrapped(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (the model itself otherwise)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _valid_loss_accuracy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    targets = torch.from_numpy(labels.astype(np.float32))
    loss = nn.functional.binary_cross_entropy_with_logits(torch.from_numpy(logits), targets)
    accuracy = float(np.mean((logits >= 0) == (labels == 1)))
    return float(loss), accuracy


def _check_split(name: str, data: EncodedReviews) -> None:
    if len(data) == 0:
        raise ValueError(f"train_model: the {name} split has no reviews")
    bad = ~np.isin(data.labels, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"train_model: {name} split review {int(data.review_ids[row])} (row {row}) has label "
            f"{int(data.labels[row])}, labels must be 0 or 1"
        )


@dataclass
class EpochTotals:
    """What one pass over the training batches added up."""

    loss_sum: float
    correct: int
    seen: int
    finite: bool  # False: the running loss became NaN or infinite and the pass stopped there


def adversarial_perturbation(
    embedded: torch.Tensor, gradient: torch.Tensor, epsilon: float
) -> torch.Tensor:
    """The perturbation of each review's embedded tokens that raises its loss the most, to
    first order: along the loss ``gradient`` with respect to ``embedded`` (``[B, T, E]``), with
    an L2 norm per review of ``epsilon`` times that of the review's embedded tokens.

    Miyato et al. (2017) normalise the embeddings and use an absolute norm; a norm relative to
    the review's own needs no normalisation (the padding rows are zero, so it is the norm of
    the review's tokens). Detached: the perturbation is a constant of the adversarial pass.
    """
    gradient, embedded = gradient.detach(), embedded.detach()
    gradient_norm = gradient.flatten(1).norm(dim=1).clamp_min(1e-12)
    scale = epsilon * embedded.flatten(1).norm(dim=1) / gradient_norm
    return gradient * scale.view(-1, *([1] * (gradient.dim() - 1)))


def train_one_epoch(
    model: SentimentModel,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    train: EncodedReviews,
    batches: list[np.ndarray],
    *,
    device: torch.device,
    config: TrainConfig,
    progress: Progress | None = None,
    replica: Replica = ALONE,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    averaged: AveragedModel | None = None,
) -> EpochTotals:
    """One optimiser step per batch: pad, copy, forward (bf16 autocast on CUDA), clip, step.

    With ``config.adversarial_epsilon`` > 0 each step also backpropagates the loss of the batch
    with its embedded tokens perturbed by :func:`adversarial_perturbation` (a second forward
    and backward pass); the reported loss and accuracy are the clean pass's. The running loss
    is read back (a host sync) every batch on the CPU and every 25 on a GPU, and reported to
    ``progress`` then; as a replica, the totals are summed over all replicas then, so they stop
    together. ``scheduler`` (if any) steps after every optimiser step, and ``averaged`` (if any)
    takes the new weights into its average.
    """
    check_every = 1 if device.type == "cpu" else 25
    adversarial = config.adversarial_epsilon > 0
    pad_index = unwrapped(model).config.padding_idx
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    totals = EpochTotals(0.0, 0, 0, finite=True)
    for step, indices in enumerate(batches, start=1):
        ids, lengths, labels = pad_batch(train, indices, config.max_length, pad_index=pad_index)
        ids, labels = to_device(ids, device), to_device(labels, device)
        with autocast(device, config.bf16), unwrapped(model).keeping_embedded(adversarial):
            logits = model(ids, lengths)
        loss = loss_fn(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if adversarial:
            _adversarial_backward(model, loss_fn, ids, lengths, labels, device, config)
        if config.grad_clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if averaged is not None:
            averaged.update_parameters(unwrapped(model))
        loss_sum += loss.detach() * len(indices)
        correct += ((logits.detach() >= 0) == (labels >= 0.5)).sum()
        seen += len(indices)
        if step % check_every == 0 or step == len(batches):
            totals = _epoch_totals(loss_sum, correct, seen, replica)
            running = totals.loss_sum / totals.seen
            if not math.isfinite(running):
                totals.finite = False
                return totals
            if progress is not None:
                progress.update(totals.seen, step, loss=running, acc=totals.correct / totals.seen)
    return totals


def _epoch_totals(
    loss_sum: torch.Tensor, correct: torch.Tensor, seen: int, replica: Replica
) -> EpochTotals:
    """The running totals of this process, or of all replicas (one small all-reduce)."""
    if replica.world_size == 1:
        return EpochTotals(float(loss_sum), int(correct), seen, finite=True)
    count = loss_sum.new_tensor(seen, dtype=torch.float64)
    summed = replica.sum(torch.stack([loss_sum.double(), correct.double(), count])).tolist()
    return EpochTotals(summed[0], int(summed[1]), int(summed[2]), finite=True)


def _valid_logits(
    model: SentimentModel,
    valid: EncodedReviews,
    batches: list[np.ndarray],
    *,
    device: torch.device,
    config: TrainConfig,
    replica: Replica,
) -> np.ndarray:
    """Logits of every validation review; as a replica, each predicts its share of the batches
    and the shares are summed (every replica then holds them all)."""
    mine = batches[replica.rank :: replica.world_size]
    logits = predict_logits(
        model, valid, device, bf16=config.bf16, max_length=config.max_length, batches=mine
    )
    if replica.world_size == 1:
        return logits
    rows = torch.from_numpy(np.concatenate(mine) if mine else np.empty(0, dtype=np.int64))
    shares = torch.zeros(len(valid), dtype=torch.float32)
    shares[rows] = torch.from_numpy(logits)[rows]
    return replica.sum(shares.to(device)).cpu().numpy()


def _adversarial_backward(  # noqa: PLR0917
    model: SentimentModel,
    loss_fn: nn.Module,
    ids: torch.Tensor,
    lengths: torch.Tensor,
    labels: torch.Tensor,
    device: torch.device,
    config: TrainConfig,
) -> None:
    """Add the gradient of the adversarial loss to the clean pass's (already in ``.grad``).

    ``model`` may be a DDP wrapper: the perturbation is set on the model inside, the adversarial
    pass runs through the wrapper (its gradients averaged over the replicas like the clean ones).
    """
    inner = unwrapped(model)
    embedded = inner.embedded
    if embedded is None or embedded.grad is None:
        raise RuntimeError(
            f"{type(inner).__name__} kept no embedded tokens with a gradient: its forward must "
            "embed the ids with SentimentModel.embed for adversarial training"
        )
    inner.embedded = None
    inner.embedding_perturbation = adversarial_perturbation(
        embedded, embedded.grad, config.adversarial_epsilon
    )
    try:
        with autocast(device, config.bf16):
            logits = model(ids, lengths)
        loss_fn(logits.float(), labels).backward()
    finally:
        inner.embedding_perturbation = None


def learning_rate_scheduler(
    optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-batch schedule of ``config.lr_schedule``: None for constant; cosine annealing
    from the optimiser's rate to 0 over ``config.epochs * steps_per_epoch`` steps."""
    if config.lr_schedule == "constant":
        return None
    total = max(1, config.epochs * steps_per_epoch)

    def cosine(step: int) -> float:
        return 0.5 * (1.0 + math.cos(math.pi * min(step, total) / total))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine)


def weight_average(model: nn.Module, config: TrainConfig) -> AveragedModel | None:
    """An exponential moving average of ``model``'s weights with ``config.weight_average_decay``
    (None when off); its ``module`` is a copy of the model holding the average."""
    if config.weight_average_decay is None:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.weight_average_decay))


def train_model(  # noqa: PLR0917 (the signature the nodes call)
    train: EncodedReviews,
    valid: EncodedReviews,
    embedding: np.ndarray,
    model_config: ModelConfig,
    config: TrainConfig,
    on_epoch_end: EpochCallback | None = None,
    *,
    on_new_best: Callable[[int, dict[str, torch.Tensor], np.ndarray], None] | None = None,
    replica: Replica = ALONE,
) -> TrainingResult:
    """Train a model of ``model_config``'s architecture; keep the epoch with the best validation
    accuracy.

    Stops after ``config.epochs``, after ``config.patience`` epochs without improvement, on a
    non-finite loss, or on Ctrl-C (KeyboardInterrupt, also from ``on_epoch_end``); in every
    case the best model so far is returned in ``checkpoint``. ``on_new_best(epoch, state,
    valid_logits)`` is called with the (CPU) weights and the validation logits of each new best
    epoch, before ``on_epoch_end``.

    ``on_epoch_end`` gets each epoch's record as it ends (the history's, plus ``best_epoch``,
    ``best_valid_accuracy`` and ``best_valid_loss`` so far), e.g. to log it to MLflow live.
    ``replica``: run as one of several data-parallel copies (see :class:`Replica`).
    """
    _check_split("train", train)
    _check_split("valid", valid)
    device = replica.device or resolve_device(config.device)
    seed_everything(config.seed)
    tune_backend(device)
    model = build_model(model_config, embedding).to(device)
    stepped = replica.wrap(model) if replica.wrap is not None else model  # DDP syncs weights
    if replica.world_size > 1:
        torch.manual_seed(config.seed + replica.rank)  # each replica its own dropout masks
    optimizer = torch.optim.Adam(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    loss_fn = nn.BCEWithLogitsLoss()
    # bucket_batches cuts every pool into whole batches, so an epoch has ceil(n / batch_size)
    # of them, of which each replica takes an equal share (Replica.share)
    steps_per_epoch = math.ceil(len(train) / config.batch_size) // replica.world_size
    scheduler = learning_rate_scheduler(optimizer, config, steps_per_epoch)
    averaged = weight_average(model, config)
    # the model validated and kept: the weights' average when averaging, else the weights
    kept = averaged.module if averaged is not None else model
    rng = np.random.default_rng(config.seed)
    valid_batches = bucket_batches(valid.lengths, config.eval_batch_size)
    logger.info(
        "training on %s%s (bf16 %s): %d train, %d valid reviews, %d parameters",
        device,
        f" x {replica.world_size} replicas" if replica.world_size > 1 else "",
        use_bf16(device, config.bf16),
        len(train),
        len(valid),
        sum(p.numel() for p in model.parameters()),
    )

    history: list[dict[str, Any]] = []
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int | None = None
    best_accuracy: float | None = None
    best_loss: float | None = None
    best_logits: np.ndarray | None = None
    stale_epochs = 0
    stop_reason = "completed"
    progress: Progress | None = None
    try:
        for epoch in range(1, config.epochs + 1):
            started = time.perf_counter()
            batches = replica.share(
                bucket_batches(train.lengths, config.batch_size, rng, config.pool_batches)
            )
            progress = Progress(
                len(train),
                f"epoch {epoch}/{config.epochs}",
                enabled=config.progress and replica.rank == 0,
                every_seconds=config.log_every_seconds,
                every_steps=config.log_every_batches,
                log=logger,
            )
            totals = train_one_epoch(
                stepped,
                optimizer,
                loss_fn,
                train,
                batches,
                device=device,
                config=config,
                progress=progress,
                replica=replica,
                scheduler=scheduler,
                averaged=averaged,
            )
            progress.close()
            progress = None
            if not totals.finite:
                stop_reason = "nan_loss"
                logger.error(
                    "epoch %d: the training loss became non-finite after %d reviews; stopping "
                    "and keeping the best model so far (epoch %s); lower the learning rate or "
                    "check the embedding matrix for inf/nan",
                    epoch,
                    totals.seen,
                    best_epoch,
                )
                break
            train_seconds = time.perf_counter() - started
            valid_logits = _valid_logits(
                kept, valid, valid_batches, device=device, config=config, replica=replica
            )
            valid_loss, valid_accuracy = _valid_loss_accuracy(valid_logits, valid.labels)
            if not math.isfinite(valid_loss):
                stop_reason = "nan_loss"
                logger.error(
                    "epoch %d: the validation loss is non-finite; stopping and keeping the best "
                    "model so far (epoch %s)",
                    epoch,
                    best_epoch,
                )
                break
            record = {
                "epoch": epoch,
                "train_loss": totals.loss_sum / totals.seen,
                "train_accuracy": totals.correct / totals.seen,
                "valid_loss": valid_loss,
                "valid_accuracy": valid_accuracy,
                "seconds": time.perf_counter() - started,
                "train_reviews_per_second": totals.seen / train_seconds,
                "learning_rate": optimizer.param_groups[0]["lr"],
            }
            history.append(record)
            logger.info(
                "epoch %d: train loss %.4f acc %.4f | valid loss %.4f acc %.4f | %.1f s",
                epoch,
                record["train_loss"],
                record["train_accuracy"],
                valid_loss,
                valid_accuracy,
                record["seconds"],
            )
            if best_accuracy is None or valid_accuracy > best_accuracy:
                best_accuracy, best_loss, best_epoch, stale_epochs = (
                    valid_accuracy,
                    valid_loss,
                    epoch,
                    0,
                )
                best_logits = valid_logits
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in kept.state_dict().items()
                }
                if on_new_best is not None:
                    on_new_best(epoch, best_state, best_logits)
            else:
                stale_epochs += 1
            if on_epoch_end is not None:
                on_epoch_end(
                    {
                        **record,
                        "best_epoch": best_epoch,
                        "best_valid_accuracy": best_accuracy,
                        "best_valid_loss": best_loss,
                    }
                )
            if stale_epochs >= config.patience:
                stop_reason = "early_stopping"
                logger.info(
                    "no validation improvement for %d epochs; best epoch %d (accuracy %.4f)",
                    stale_epochs,
                    best_epoch,
                    best_accuracy,
                )
                break
    except KeyboardInterrupt:
        stop_reason = "interrupted"
        logger.warning("training interrupted; keeping the best model so far (epoch %s)", best_epoch)
    finally:
        if progress is not None:
            progress.close()

    return training_result(
        model,
        config,
        history,
        best_state,
        best_epoch,
        best_accuracy,
        stop_reason,
        str(device),
        best_logits=best_logits,
    )


def training_result(  # noqa: PLR0917 (what the loop ends with, in its order)
    model: SentimentModel,
    config: TrainConfig,
    history: list[dict[str, Any]],
    best_state: dict[str, torch.Tensor] | None,
    best_epoch: int | None,
    best_accuracy: float | None,
    stop_reason: str,
    device: str,
    *,
    best_logits: np.ndarray | None,
) -> TrainingResult:
    """What training ends with: ``best_state`` loaded into ``model`` and checkpointed (no
    checkpoint when no epoch completed); ``best_logits`` are that epoch's validation logits.
    The distributed launcher builds an interrupted run's result from what the replicas reported
    with it too."""
    checkpoint = None
    if best_state is not None:
        model.load_state_dict(best_state)
        checkpoint = model_checkpoint(
            model,
            vocabulary_size=model.config.vocab_size,
            best_epoch=best_epoch,
            best_valid_accuracy=best_accuracy,
            stop_reason=stop_reason,
            train_config=config.to_dict(),
        )
    return TrainingResult(
        checkpoint=checkpoint,
        history=history,
        best_epoch=best_epoch,
        best_valid_accuracy=best_accuracy,
        stop_reason=stop_reason,
        best_valid_logits=best_logits,
        device=device,
    )
