"""Where training runs: this process, or N data-parallel workers on a Ray cluster.

``training.distributed.backend: none`` (the default) calls
:func:`imdb_sentiment.training.train_model` here and never imports Ray. ``ray`` hands the same
function to Ray Train's ``TorchTrainer``: every worker runs the whole loop as one
:class:`~imdb_sentiment.training.Replica` (the model wrapped in DistributedDataParallel by
``ray.train.torch.prepare_model``, gloo on CPUs, NCCL on GPUs), on its share of each epoch's
length-bucketed batches. The first worker sends each epoch's record, and the weights and
validation logits of each new best epoch, to this process through a Ray queue as they happen,
then the finished :class:`~imdb_sentiment.training.TrainingResult`; the epoch loop, early
stopping, best-on-valid and the checkpoint format are the library's, unchanged. The Kedro
process keeps the catalog, the MLflow run and the calibration temperature (fitted there on the
validation logits, as after a local run): the workers log nothing to MLflow.

Ctrl-C in this process ends the Ray job (the workers are the job's actors) and returns the best
model received so far, as an interrupted single-process run does; a worker's error fails the
run. Ray is an optional extra: ``pip install -e ".[ray]"``.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from imdb_sentiment.batching import bucket_batches
from imdb_sentiment.dict_settings import DictSettings, SettingsError
from imdb_sentiment.inference import torch_threads
from imdb_sentiment.models import ModelConfig, build_model
from imdb_sentiment.sequences import EncodedReviews
from imdb_sentiment.training import (
    EpochCallback,
    Replica,
    TrainConfig,
    TrainingResult,
    train_model,
    training_result,
)

logger = logging.getLogger(__name__)

# Off for every Ray this module starts or joins: Ray Train's Prometheus metrics (its usage
# reports, a network call, are off with the other telemetry in imdb_sentiment/__init__.py).
# OMP_WAIT_POLICY travels to the workers (imdb_sentiment/__init__.py says why): Ray Train
# imports torch in a worker before this package could set it there.
RAY_ENVIRONMENT = {"RAY_TRAIN_METRICS_ENABLED": "0"}
# A local Ray as a one-machine cluster: every Ray process listens on 127.0.0.1 only (otherwise
# Ray binds all interfaces and announces the machine's address). Read when Ray is imported.
LOCAL_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
QUEUE_POLL_SECONDS = 0.5
# Ray Train's placement-group cleaner asks Ray's state API, served by the dashboard, every
# second whether the run's controller lives; without the dashboard (off here, and not in
# `ray[train]`) it warns each time. Quieted in every worker process of the job.
QUIET_LOGGERS = ("ray.train.v2._internal.execution.controller.placement_group_cleaner",)


@dataclass
class DistributedSettings(DictSettings):
    """``training.distributed``: where training runs."""

    backend: Literal["none", "ray"] = "none"  # none: this process, no Ray import
    # null: a Ray started on this machine for the run (127.0.0.1 only) and stopped after;
    # "auto", "HOST:PORT" or "ray://HOST:10001": an existing cluster
    address: str | None = None
    num_workers: int = 2
    use_gpu: bool = False  # one GPU per worker (NCCL); otherwise CPUs (gloo)
    cpus_per_worker: int = 1  # CPUs Ray reserves per worker = its torch threads
    # Ray Train's run folder. null: a temporary folder for a local Ray, Ray's default
    # (~/ray_results) on a cluster; a cluster of several machines needs one all of them reach
    # (an NFS path or s3://...)
    storage_path: str | None = None

    def __post_init__(self) -> None:
        for name in ("num_workers", "cpus_per_worker"):
            value = getattr(self, name)
            if value < 1:
                raise SettingsError(name, f"must be >= 1, got {value}")
        for name in ("address", "storage_path"):
            if getattr(self, name) is not None and not getattr(self, name).strip():
                raise SettingsError(name, "must be null or a non-empty string")

    def check_device(self, device: str) -> None:
        """With Ray, the device comes from ``use_gpu``; ``training.device`` must not contradict
        it (``auto`` never does)."""
        wanted = device.strip().lower()
        if self.backend != "ray" or wanted == "auto":
            return
        if self.use_gpu != wanted.startswith("cuda"):
            raise SettingsError(
                "device",
                f"is {device!r} but training.distributed.use_gpu is {self.use_gpu}: on Ray "
                "the workers' device follows use_gpu; set device to auto",
            )


def run_training(  # noqa: PLR0917 (train_model's signature, and where)
    train: EncodedReviews,
    valid: EncodedReviews,
    embedding: np.ndarray,
    model_config: ModelConfig,
    config: TrainConfig,
    distributed: DistributedSettings,
    on_epoch_end: EpochCallback | None = None,
) -> TrainingResult:
    """:func:`~imdb_sentiment.training.train_model` here (on ``config.torch_threads``), or on
    Ray as ``distributed`` says (each worker on ``distributed.cpus_per_worker`` threads)."""
    if distributed.backend == "none":
        with torch_threads(config.torch_threads):
            return train_model(train, valid, embedding, model_config, config, on_epoch_end)
    return train_on_ray(train, valid, embedding, model_config, config, distributed, on_epoch_end)


def _import_ray(settings: DistributedSettings) -> Any:
    for key, value in {
        **RAY_ENVIRONMENT,
        **(LOCAL_ONLY if settings.address is None else {}),
    }.items():
        os.environ.setdefault(key, value)
    try:
        import ray  # noqa: PLC0415 - optional, and only on this path
    except ImportError as error:
        raise ImportError(
            "training.distributed.backend is 'ray' but Ray is not installed: "
            'pip install -e ".[ray]" (or set training.distributed.backend=none)'
        ) from error
    return ray


def _check_enough_batches(train: EncodedReviews, batch_size: int, workers: int) -> None:
    batches = len(bucket_batches(train.lengths, batch_size))
    if batches < workers:
        raise ValueError(
            f"training.distributed.num_workers is {workers} but the train split has "
            f"{len(train)} reviews, {batches} batch(es) of training.batch_size {batch_size}: "
            "every worker needs at least one batch an epoch"
        )


def _connect(ray: Any, settings: DistributedSettings, stack: ExitStack) -> None:
    """Start a local Ray or join the cluster at ``settings.address``; undone by ``stack``."""
    if ray.is_initialized():  # a Ray the caller started: theirs to stop
        return
    import imdb_sentiment  # noqa: PLC0415

    runtime_env: dict[str, Any] = {
        "env_vars": {"OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")},
        "worker_process_setup_hook": _quiet_ray_workers(),
    }
    if settings.address is None:
        ray.init(include_dashboard=False, configure_logging=False, runtime_env=runtime_env)
    else:
        # The cluster's workers get this package from here (they need torch and numpy).
        runtime_env["py_modules"] = [imdb_sentiment]
        ray.init(address=settings.address, configure_logging=False, runtime_env=runtime_env)
    stack.callback(ray.shutdown)


def _quiet_ray_workers() -> Callable[[], None]:
    """What Ray runs in each worker process of the job as it starts (see QUIET_LOGGERS): a
    closure, which Ray ships by value, so that a process that does not train (the controller,
    the queue) does not import this module and torch with it."""
    names = QUIET_LOGGERS

    def quiet() -> None:
        import logging  # noqa: PLC0415 - runs in Ray's worker process

        for name in names:
            logging.getLogger(name).setLevel(logging.ERROR)

    return quiet


def train_on_ray(  # noqa: PLR0917 (train_model's signature, and where)
    train: EncodedReviews,
    valid: EncodedReviews,
    embedding: np.ndarray,
    model_config: ModelConfig,
    config: TrainConfig,
    settings: DistributedSettings,
    on_epoch_end: EpochCallback | None = None,
) -> TrainingResult:
    """``train_model`` on ``settings.num_workers`` Ray Train workers (DDP); the result, the
    epoch records (``on_epoch_end`` is called here, as each epoch ends) and Ctrl-C handling as
    ``train_model`` has them."""
    _check_enough_batches(train, config.batch_size, settings.num_workers)
    ray = _import_ray(settings)
    from ray.train import FailureConfig, RunConfig, ScalingConfig  # noqa: PLC0415
    from ray.train.torch import TorchTrainer  # noqa: PLC0415
    from ray.util.queue import Queue  # noqa: PLC0415

    with ExitStack() as stack:
        storage = settings.storage_path
        if storage is None and settings.address is None:  # removed after Ray has stopped
            storage = stack.enter_context(tempfile.TemporaryDirectory(prefix="ray-train-"))
        _connect(ray, settings, stack)
        reports = Queue(actor_options={"num_cpus": 0})
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={
                "data": ray.put((train, valid, embedding)),
                "model_config": model_config,
                "config": config,
                "threads": settings.cpus_per_worker,
                "reports": reports,
            },
            scaling_config=ScalingConfig(
                num_workers=settings.num_workers,
                use_gpu=settings.use_gpu,
                resources_per_worker={
                    "CPU": settings.cpus_per_worker,
                    **({"GPU": 1} if settings.use_gpu else {}),
                },
            ),
            run_config=RunConfig(
                name=f"imdb-sentiment-{uuid.uuid4().hex[:8]}",
                storage_path=storage,
                failure_config=FailureConfig(max_failures=0),  # a failure fails the run
            ),
        )
        logger.info(
            "training on Ray (%s): %d worker(s), %s, %d CPU(s) each",
            settings.address or "a local Ray on 127.0.0.1",
            settings.num_workers,
            "one GPU each" if settings.use_gpu else "no GPU",
            settings.cpus_per_worker,
        )
        return _follow(trainer, reports, model_config, config, settings, on_epoch_end)


class _Fit(threading.Thread):
    """``trainer.fit()`` off the main thread: Ctrl-C stays a KeyboardInterrupt here (Ray's
    handler, which it installs only on the main thread, would exit the process with status 0)."""

    def __init__(self, trainer: Any) -> None:
        super().__init__(name="ray-train-fit", daemon=True)
        self.trainer = trainer
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.trainer.fit()
        except BaseException as error:  # noqa: BLE001 - handed to the main thread
            self.error = error


def _follow(  # noqa: PLR0917
    trainer: Any,
    reports: Any,
    model_config: ModelConfig,
    config: TrainConfig,
    settings: DistributedSettings,
    on_epoch_end: EpochCallback | None,
) -> TrainingResult:
    """Run ``trainer`` and take the first worker's reports as they come."""
    from ray.util.queue import Empty  # noqa: PLC0415

    history: list[dict[str, Any]] = []
    # the best epoch so far: its number, validation accuracy, weights and validation logits
    best: tuple[int, float, dict[str, torch.Tensor], np.ndarray] | None = None
    fit = _Fit(trainer)
    fit.start()
    try:
        while True:
            running = fit.is_alive()
            try:
                report = reports.get(timeout=QUEUE_POLL_SECONDS)
            except Empty:
                if running:
                    continue
                break  # fit had ended before this look and nothing was left
            if report["kind"] == "result":
                fit.join()
                return report["result"]
            record = report["record"]
            history.append(record)
            if report["best"] is not None:
                best = (record["epoch"], record["valid_accuracy"], *report["best"])
            if on_epoch_end is not None:
                on_epoch_end(dict(record))
    except KeyboardInterrupt:
        logger.warning(
            "training interrupted: ending the Ray job; keeping the best model so far (epoch %s)",
            best[0] if best else None,
        )
        best_epoch, best_accuracy, state, logits = best if best else (None, None, None, None)
        return training_result(
            build_model(model_config),
            config,
            history,
            state,
            best_epoch,
            best_accuracy,
            "interrupted",
            "cuda" if settings.use_gpu else "cpu",
            best_logits=logits,
        )
    fit.join()
    raise RuntimeError(
        f"training on Ray failed after {len(history)} epoch(s): {fit.error!r}"
        if fit.error is not None
        else "training on Ray ended without a result from its first worker"
    ) from fit.error


def _worker_loop(payload: dict[str, Any]) -> None:
    """One Ray Train worker: ``train_model`` as replica ``rank``; the first reports back."""
    import ray  # noqa: PLC0415
    import ray.train  # noqa: PLC0415
    import ray.train.torch  # noqa: PLC0415

    context = ray.train.get_context()
    rank = context.get_world_rank()
    torch.set_num_threads(payload["threads"])
    train, valid, embedding = ray.get(payload["data"])
    embedding = np.array(embedding)  # a writable copy (the object store's is read-only)
    reports = payload["reports"]
    replica = Replica(
        rank=rank,
        world_size=context.get_world_size(),
        device=ray.train.torch.get_device(),
        wrap=ray.train.torch.prepare_model,
    )
    new_best: dict[str, Any] = {}

    def keep_best(epoch: int, state: dict[str, torch.Tensor], valid_logits: np.ndarray) -> None:
        new_best["best"] = (state, valid_logits)

    def report_epoch(record: dict[str, Any]) -> None:
        reports.put({"kind": "epoch", "record": record, "best": new_best.pop("best", None)})

    first = rank == 0
    if not first:  # the first worker's epoch lines reach the driver's log; the others' repeat them
        logging.getLogger("imdb_sentiment").setLevel(logging.WARNING)
    result = train_model(
        train,
        valid,
        embedding,
        payload["model_config"],
        payload["config"],
        report_epoch if first else None,
        on_new_best=keep_best if first else None,
        replica=replica,
    )
    if first:
        reports.put({"kind": "result", "result": result})
