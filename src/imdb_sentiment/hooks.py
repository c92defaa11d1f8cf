"""Project hooks: parameters checked before anything runs; MLflow run names that tell runs
apart; the checkpoint stamped with its run; evaluate runs linked to their training run."""

from __future__ import annotations

import atexit
import logging
from datetime import datetime
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from mlflow.entities import RunStatus

from imdb_sentiment.models import config_from_params
from imdb_sentiment.parameters import validate_parameters

logger = logging.getLogger(__name__)

CHECKPOINT_DATASET = "model_checkpoint"
RUN_ID_KEY = "mlflow_run_id"
RUN_NAME_KEY = "mlflow_run_name"


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


def describe_run(
    pipeline_names: list[str], env: str, training: dict[str, Any], source: str | None
) -> str:
    """A run name readable at a glance: what ran, where, which model, on what data, when."""
    parts = [
        "+".join("all" if name == "__default__" else name for name in pipeline_names),
        env,
        config_from_params(training.get("model", {})).describe(),
    ]
    if source:
        parts.append(source.rstrip("/").rsplit("/", 1)[-1])
    parts.append(datetime.now().strftime("%m-%d %H:%M:%S"))
    return " · ".join(parts)


class MlflowRunHooks:
    """Runs after kedro-mlflow's own hooks (plugins are called first), on its active run."""

    def __init__(self) -> None:
        self._env = "base"
        self._training_params: dict[str, Any] = {}
        self._unfinished_run: str | None = None
        self._run_name: str | None = None
        self._exit_handler_registered = False
        self._run_opened_outside = False

    @hook_impl
    def after_context_created(self, context) -> None:
        self._env = context.env or "local"
        self._training_params = context.params.get("training", {})
        # a run already active now was opened by an orchestrator (imdb_sentiment.orchestration),
        # which named it and will close it
        self._run_opened_outside = mlflow.active_run() is not None

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        run = mlflow.active_run()
        if run is None or self._run_opened_outside:
            return
        names = run_params.get("pipeline_names") or ["__default__"]
        source = (run_params.get("runtime_params") or {}).get("imdb_source")
        name = describe_run(names, self._env, self._training_params, source)
        mlflow.set_tag("mlflow.runName", name)
        self._run_name = name  # the active run object keeps the name the run started with
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
    def before_dataset_saved(self, dataset_name: str, data: Any) -> None:
        """Stamp the checkpoint with the run that trained it."""
        run = mlflow.active_run()
        if dataset_name == CHECKPOINT_DATASET and run is not None and isinstance(data, dict):
            data[RUN_ID_KEY] = run.info.run_id
            data[RUN_NAME_KEY] = self._run_name or run.info.run_name

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str, data: Any) -> None:
        """An evaluate-only run records which training run produced the model it scores."""
        run = mlflow.active_run()
        if dataset_name != CHECKPOINT_DATASET or run is None or not isinstance(data, dict):
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
