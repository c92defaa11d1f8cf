"""Project hooks: parameters checked before anything runs; MLflow run names and tags that tell
runs apart (model, epochs, data source and split sizes, git commit); the checkpoint stamped with
its run; evaluate and predict runs linked to the run that trained their model."""

from __future__ import annotations

import atexit
import logging
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline
from mlflow.entities import RunStatus

from imdb_sentiment.dict_settings import SettingsError
from imdb_sentiment.models import config_from_params
from imdb_sentiment.parameters import validate_parameters

logger = logging.getLogger(__name__)

CHECKPOINT_DATASET = "model_checkpoint"
SCORING_MODEL_DATASET = "scoring_model"
MODEL_URI_KEY = "model_uri"
RUN_ID_KEY = "mlflow_run_id"
RUN_NAME_KEY = "mlflow_run_name"
# Datasets whose length is a split's size, tagged on the run as size.<split>.
SPLIT_DATASETS = {"train_ids": "train", "valid_ids": "valid", "test_ids": "test"}


class ParameterCheckHooks:
    """Every parameter of every pipeline checked once the context exists, before any node.

    A bad one (unknown key, wrong type, out of range, a runtime parameter the environment's
    catalog does not read) stops the command with one line naming its dotted key.
    """

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        env = context.env or "local"
        for warning in validate_parameters(
            context.params,
            context.config_loader.runtime_params or {},
            context.config_loader["catalog"],
            env,
        ):
            logger.warning("parameters: %s", warning)


@dataclass
class RunDescription:
    """What tells one MLflow run from another, as its name shows it."""

    pipelines: list[str]
    env: str
    model: str  # the architecture and its size, or the model_uri scored with
    epochs: int | None = None  # when the run trains
    source: str | None = None  # where the reviews came from
    sizes: dict[str, int] = field(default_factory=dict)  # reviews per split, once known
    started: datetime = field(default_factory=datetime.now)

    def name(self) -> str:
        """e.g. ``all · local · bilstm-1x64-max_mean · 8 epochs · imdb_sample 4,050 train ·
        11-27 12:30:05``."""
        parts = ["+".join(self.pipelines), self.env, self.model]
        if self.epochs is not None:
            parts.append(f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}")
        data = [self.source.rstrip("/").rsplit("/", 1)[-1]] if self.source else []
        for split in ("train", "test"):
            if split in self.sizes:
                data.append(f"{self.sizes[split]:,} {split}")
                break
        if data:
            parts.append(" ".join(data))
        parts.append(self.started.strftime("%m-%d %H:%M:%S"))
        return " · ".join(parts)


def describe_run(
    pipeline_names: list[str], env: str, training: dict[str, Any], source: str | None
) -> str:
    """A run name readable at a glance: what ran, where, which model, on what data, when."""
    return RunDescription(
        pipelines=["all" if name == "__default__" else name for name in pipeline_names],
        env=env,
        model=config_from_params(training.get("model", {})).describe(),
        source=source,
    ).name()


def git_state(path: Path) -> tuple[str | None, bool]:
    """The commit checked out at ``path`` and whether tracked files differ from it; (None,
    False) outside a git repository or without git."""

    def git(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["git", *arguments], cwd=path, capture_output=True, text=True, timeout=10, check=False
        )

    try:
        commit = git("rev-parse", "HEAD")
        if commit.returncode != 0:
            return None, False
        status = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.TimeoutExpired):
        return None, False
    return commit.stdout.strip(), bool(status.stdout.strip())


def _runner_name(runner: Any) -> str:
    """``SequentialRunner``, from the runner or from kedro-mlflow's repr of it."""
    if isinstance(runner, str):
        match = re.search(r"([A-Za-z_]\w*) object at", runner)
        return match.group(1) if match else runner
    return type(runner).__name__


class MlflowRunHooks:
    """Runs after kedro-mlflow's own hooks (plugins are called first), on its active run."""

    def __init__(self) -> None:
        self._env = "base"
        self._training_params: dict[str, Any] = {}
        self._project_path: Path | None = None
        self._data_source: str | None = None
        self._description: RunDescription | None = None
        self._unfinished_run: str | None = None
        self._exit_handler_registered = False
        self._run_opened_outside = False

    @hook_impl
    def after_context_created(self, context) -> None:
        self._env = context.env or "local"
        self._training_params = context.params.get("training", {})
        self._project_path = Path(context.project_path)
        source = (context.config_loader["catalog"].get("imdb_raw") or {}).get("source")
        self._data_source = None if source is None else str(source)
        self._description = None  # one hooks object serves every session of a process
        # a run already active now was opened by an orchestrator (imdb_sentiment.orchestration),
        # which named it and will close it
        self._run_opened_outside = mlflow.active_run() is not None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline = None) -> None:
        runtime = run_params.get("runtime_params") or {}
        trains = pipeline is not None and any(
            CHECKPOINT_DATASET in node.outputs for node in pipeline.nodes
        )
        if trains and runtime.get(MODEL_URI_KEY):
            raise SettingsError(
                MODEL_URI_KEY,
                "is for evaluate and predict: this run trains a new model; drop it, or run "
                "--pipelines=evaluate or --pipelines=predict",
            )
        run = mlflow.active_run()
        if run is None or self._run_opened_outside:
            return
        names = run_params.get("pipeline_names") or ["__default__"]
        names = ["all" if name == "__default__" else name for name in names]
        model_uri = runtime.get(MODEL_URI_KEY)
        epochs = self._training_params.get("epochs")
        self._description = RunDescription(
            pipelines=names,
            env=self._env,
            model=str(model_uri)
            if model_uri
            else config_from_params(self._training_params.get("model", {})).describe(),
            epochs=int(epochs) if trains and epochs is not None else None,
            source=self._data_source,
        )
        name = self._description.name()
        tags = {
            "mlflow.runName": name,
            "runner": _runner_name(run_params.get("runner")),
            "data_source": self._data_source,
        }
        commit, dirty = git_state(self._project_path or Path.cwd())
        if commit:
            tags.update(
                {
                    "git_commit": commit,
                    "git_dirty": str(dirty).lower(),
                    "mlflow.source.git.commit": commit,
                }
            )
        mlflow.set_tags({key: value for key, value in tags.items() if value is not None})
        extra_test = (run_params.get("runtime_params") or {}).get("extra_test_source")
        if extra_test:  # read by a dataset, not a node: kedro-mlflow would not log it
            mlflow.set_tag("extra_test_source", str(extra_test))
        logger.info("MLflow run %s is named %r", run.info.run_id, name)
        self._unfinished_run = run.info.run_id
        if not self._exit_handler_registered:
            # atexit runs last-registered first: before MLflow's own handler, which would
            # close a run left open by Ctrl-C as FINISHED
            atexit.register(self.end_unfinished_run)
            self._exit_handler_registered = True

    def _record_split(self, dataset_name: str, data: Any) -> None:
        """Tag the run with the size of a split that passes through; name it by its size."""
        split = SPLIT_DATASETS.get(dataset_name)
        run = mlflow.active_run()
        if split is None or run is None or not hasattr(data, "__len__"):
            return
        size = len(data)
        mlflow.set_tag(f"size.{split}", size)
        if self._description is not None and self._description.sizes.get(split) != size:
            self._description.sizes[split] = size
            mlflow.set_tag("mlflow.runName", self._description.name())

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._unfinished_run = None

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._unfinished_run = None  # kedro-mlflow marks the run FAILED

    def end_unfinished_run(self) -> None:
        """Mark KILLED a run whose pipeline neither finished nor failed (Ctrl-C, a signal)."""
        run = mlflow.active_run()
        if self._unfinished_run and run is not None and run.info.run_id == self._unfinished_run:
            logger.warning(
                "the pipeline was interrupted: MLflow run %s is marked KILLED", run.info.run_id
            )
            while mlflow.active_run() is not None:
                mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
        self._unfinished_run = None

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any) -> None:
        self._record_split(dataset_name, data)

    @hook_impl
    def before_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Stamp the checkpoint with the run that trained it."""
        run = mlflow.active_run()
        if dataset_name == CHECKPOINT_DATASET and run is not None and isinstance(data, dict):
            data[RUN_ID_KEY] = run.info.run_id
            data[RUN_NAME_KEY] = (
                self._description.name() if self._description else run.info.run_name
            )

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        """An evaluate or predict run records which training run produced its model."""
        self._record_split(dataset_name, data)
        run = mlflow.active_run()
        if dataset_name == SCORING_MODEL_DATASET:
            data = getattr(data, "checkpoint", None)
        elif dataset_name != CHECKPOINT_DATASET:
            return
        if run is None or not isinstance(data, dict):
            return
        trained_in = data.get(RUN_ID_KEY)
        if not trained_in or trained_in == run.info.run_id:
            return
        mlflow.set_tags(
            {
                "trained_in_run_id": trained_in,
                "trained_in_run_name": data.get(RUN_NAME_KEY, ""),
                "mlflow.note.content": (
                    f"Evaluates the model trained in run {data.get(RUN_NAME_KEY, '')} "
                    f"({trained_in})."
                ),
            }
        )
