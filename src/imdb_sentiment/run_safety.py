"""Hooks that keep runs safe: one run at a time per project folder, the leftovers of killed runs
cleared, MLflow run states that tell the truth, and store failures named.

* :class:`ProjectLockHooks`: the project lock (:mod:`imdb_sentiment.project_lock`) before
  anything else of a run, then the temporary files a killed run left under ``data/`` removed.
* :class:`MlflowRunStateHooks`: the run tagged with its process; runs left RUNNING by killed
  processes closed as KILLED (:mod:`imdb_sentiment.run_states`); SIGTERM stops the run as
  Ctrl-C does and marks it KILLED; a model loaded from a run that did not finish is flagged.
* :class:`TrackingStoreErrorHooks`: an error of MLflow's SQLite store, from any hook or node,
  carries a note naming the database file and what to do.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from imdb_sentiment.atomic import remove_temporaries
from imdb_sentiment.hooks import RUN_ID_KEY, RUN_NAME_KEY
from imdb_sentiment.project_lock import LockHolder, ProjectLock, wait_seconds_from_env
from imdb_sentiment.run_states import close_abandoned_runs, describe_store_failure, process_tags

logger = logging.getLogger(__name__)

DATA_FOLDER = "data"  # where the catalog's outputs live, under the project folder
TRAINED_IN_STATUS_TAG = "trained_in_run_status"


def orchestrated() -> bool:
    """Whether this session runs inside an MLflow run that someone else started and will end:
    an orchestrator's (Airflow's tasks resume their DAG run's MLflow run), not one of its own.

    Asked before kedro-mlflow starts a run of its own (``after_context_created``, or a
    ``tryfirst`` ``before_pipeline_run``), when any active run is someone else's.
    """
    return mlflow.active_run() is not None


class ProjectLockHooks:
    """Holds the project lock from before the MLflow run starts to after the pipeline ends.

    The task of an orchestrated run takes it shared (beside its sibling tasks) and leaves the
    temporaries alone (a sibling may be writing one).
    """

    def __init__(self) -> None:
        self._lock: ProjectLock | None = None
        self._exit_handler_registered = False

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> None:
        """Take the lock (or refuse, naming the running run), then clear killed runs' leftovers."""
        self.release()  # one a previous session of this process never gave back
        project = Path(run_params["project_path"])
        lock = ProjectLock(project)
        holder = LockHolder.this_process(run_params.get("pipeline_names"))
        shared = orchestrated()
        stale = lock.acquire(holder, wait_seconds_from_env(), shared=shared)
        self._lock = lock
        if not self._exit_handler_registered:
            atexit.register(self.release)
            self._exit_handler_registered = True
        if stale is not None:
            logger.warning(
                "The run before this one (%s) was killed while it held %s; taking it over",
                stale.describe(),
                lock.path,
            )
        removed = [] if shared else remove_temporaries(project / DATA_FOLDER)
        if removed:
            logger.warning(
                "Removed %d temporary file(s) left under %s by a killed run (the outputs they "
                "were to replace are intact): %s",
                len(removed),
                project / DATA_FOLDER,
                ", ".join(str(path.relative_to(project)) for path in removed),
            )

    @hook_impl(trylast=True)
    def after_pipeline_run(self) -> None:
        self.release()

    @hook_impl(trylast=True)
    def on_pipeline_error(self) -> None:
        self.release()

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class RunTerminated(KeyboardInterrupt):
    """Raised by the SIGTERM handler where the run is, so that it stops as after Ctrl-C."""


class MlflowRunStateHooks:
    """Runs after kedro-mlflow's own hooks (plugins are called first), on its active run.

    An orchestrated run's state is its orchestrator's: such a run is neither tagged with this
    process (it outlives it) nor marked KILLED here, and SIGTERM is left to the orchestrator.
    """

    def __init__(self) -> None:
        self._experiment_name: str | None = None
        self._run_id: str | None = None
        self._terminated = False
        self._owner_pid: int | None = None
        self._previous_handler: Any = None
        self._orchestrated = False
        self._checked_runs: set[str] = set()  # training runs of loaded checkpoints, checked
        os.register_at_fork(after_in_child=self._restore_in_forked_child)

    @hook_impl
    def after_context_created(self, context) -> None:
        config = getattr(context, "mlflow", None)  # set by kedro-mlflow's hook
        self._experiment_name = config.tracking.experiment.name if config else None
        self._orchestrated = orchestrated()

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Tag the run with its process, close runs of killed processes, handle SIGTERM."""
        run = mlflow.active_run()
        self._terminated = False
        self._checked_runs.clear()
        own_run = run is not None and not self._orchestrated
        self._run_id = run.info.run_id if own_run else None
        if own_run:
            mlflow.set_tags(process_tags())
        client = MlflowClient()
        try:
            experiment_id = run.info.experiment_id if run else self._experiment_id(client)
            if experiment_id is not None:
                close_abandoned_runs(client, experiment_id, run.info.run_id if run else None)
        except MlflowException as error:  # housekeeping: never the reason a run fails
            logger.warning("Could not look for runs left RUNNING by killed processes: %s", error)
        if own_run:
            self._install_sigterm_handler()
        else:
            self._restore_sigterm_handler()

    def _experiment_id(self, client: MlflowClient) -> str | None:
        if not self._experiment_name:
            return None
        experiment = client.get_experiment_by_name(self._experiment_name)
        return experiment.experiment_id if experiment else None

    @hook_impl
    def after_pipeline_run(self) -> None:
        """A pipeline that ended although SIGTERM stopped a node (the training loop keeps its
        best model and returns) still ends KILLED, and the command fails."""
        self._restore_sigterm_handler()
        terminated = self._mark_killed_if_terminated()
        if terminated:
            raise RunTerminated("SIGTERM stopped the run before its end")

    @hook_impl
    def on_pipeline_error(self) -> None:
        """After kedro-mlflow marked the run FAILED: KILLED instead if SIGTERM stopped it."""
        self._restore_sigterm_handler()
        self._mark_killed_if_terminated()

    def _mark_killed_if_terminated(self) -> bool:
        run_id, self._run_id = self._run_id, None
        if self._terminated and run_id is not None:
            MlflowClient().set_terminated(run_id, RunStatus.to_string(RunStatus.KILLED))
            logger.warning("MLflow run %s was stopped by SIGTERM: marked KILLED", run_id)
        return self._terminated

    def _install_sigterm_handler(self) -> None:
        self._restore_sigterm_handler()
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread may handle signals (a session run from a thread)
        self._owner_pid = os.getpid()
        self._previous_handler = signal.signal(signal.SIGTERM, self._on_sigterm)

    def _restore_sigterm_handler(self) -> None:
        if self._owner_pid == os.getpid() and self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
        self._previous_handler = None
        self._owner_pid = None

    def _restore_in_forked_child(self) -> None:
        """A process forked during the run (the tokenizer's workers) gets the handler it would
        have had without this one. A Python handler there would lose a SIGTERM that arrives
        just before a blocking wait (the flag is set, the wait never returns): the pool's
        ``terminate`` then waited forever for an idle worker (seen in the fault suite)."""
        if self._owner_pid is not None and self._owner_pid != os.getpid():
            signal.signal(signal.SIGTERM, self._previous_handler or signal.SIG_DFL)
            self._previous_handler = None
            self._owner_pid = None

    def _on_sigterm(self, signum: int, frame: Any) -> None:  # noqa: ARG002 - signal's signature
        """Stop the run where it is, as Ctrl-C does; a second SIGTERM ends the process at once."""
        if os.getpid() != self._owner_pid:  # forked by other means than os.fork: as it would
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        self._terminated = True
        self._restore_sigterm_handler()
        logger.warning("SIGTERM received: stopping the run; its MLflow run will be marked KILLED")
        raise RunTerminated("SIGTERM")

    @hook_impl
    def after_dataset_loaded(self, data: Any) -> None:
        """Warn when a loaded checkpoint was trained in a run that did not finish."""
        run = mlflow.active_run()
        if run is None or not isinstance(data, dict) or not data.get(RUN_ID_KEY):
            return
        trained_in = data[RUN_ID_KEY]
        if trained_in == run.info.run_id or trained_in in self._checked_runs:
            return
        self._checked_runs.add(trained_in)
        try:
            status = MlflowClient().get_run(trained_in).info.status
        except MlflowException:
            status = "MISSING"
        mlflow.set_tag(TRAINED_IN_STATUS_TAG, status)
        if status != RunStatus.to_string(RunStatus.FINISHED):
            logger.warning(
                "The model was trained in MLflow run %r (%s), which is %s, not FINISHED: it may "
                "be the best model of an interrupted or failed training",
                data.get(RUN_NAME_KEY, ""),
                trained_in,
                status,
            )


class TrackingStoreErrorHooks:
    """Wraps the hooks in which kedro-mlflow talks to the store: a SQLite failure gets a note
    naming the database file. A failure to mark a failed run FAILED is logged, not raised, so
    that the error that failed the run is the one reported."""

    @hook_impl(wrapper=True)
    def after_context_created(self, context) -> Generator[None, Any, Any]:  # noqa: ARG002
        return (yield from _naming_the_store())

    @hook_impl(wrapper=True)
    def before_pipeline_run(self, run_params) -> Generator[None, Any, Any]:  # noqa: ARG002
        return (yield from _naming_the_store())

    @hook_impl(wrapper=True)
    def after_pipeline_run(self, run_params) -> Generator[None, Any, Any]:  # noqa: ARG002
        return (yield from _naming_the_store())

    @hook_impl(wrapper=True)
    def on_pipeline_error(self, error: Exception) -> Generator[None, Any, Any]:
        name_the_store(error)
        try:
            return (yield)
        except Exception as hook_error:
            message = describe_store_failure(hook_error, mlflow.get_tracking_uri())
            if message is None:
                raise
            logger.error("Could not mark the MLflow run FAILED. %s", message)
            return None


def _naming_the_store() -> Generator[None, Any, Any]:
    try:
        return (yield)
    except Exception as error:
        name_the_store(error)
        raise


def name_the_store(error: BaseException) -> None:
    """Add a note naming MLflow's SQLite store to ``error`` if the store caused it (once)."""
    message = describe_store_failure(error, mlflow.get_tracking_uri())
    if message is not None and message not in getattr(error, "__notes__", ()):
        error.add_note(message)
        logger.error(message)
