"""MLflow run states that tell the truth after kills and store failures.

* Every run is tagged with the process that runs it (host, pid, and on Linux a token of the
  process's start), so that a later run can tell a run whose process was killed (``kill -9``,
  an out-of-memory kill, a power cut) from one still going in another process.
* :func:`close_abandoned_runs` marks such runs KILLED (with an end time) and their logged models
  that never became READY as FAILED. Only runs whose process is known to be gone are touched:
  a run tagged by another host, or not tagged at all, is left alone.
* :func:`describe_store_failure` turns SQLite's errors, which name no file, into a sentence
  naming the store's file and what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from pathlib import Path

from mlflow.entities import LoggedModelStatus, Run, RunStatus
from mlflow.tracking import MlflowClient

from imdb_sentiment.errors import exception_chain

logger = logging.getLogger(__name__)

HOST_TAG = "imdb_sentiment.host"
PID_TAG = "imdb_sentiment.pid"
PROCESS_START_TAG = "imdb_sentiment.process_start"
PID_NAMESPACE_TAG = "imdb_sentiment.pid_namespace"  # containers sharing a host name differ here
CLOSED_BY_TAG = "imdb_sentiment.closed_by_run"

_KILLED = RunStatus.to_string(RunStatus.KILLED)
_RUNNING = RunStatus.to_string(RunStatus.RUNNING)


# --------------------------------------------------------------------------- processes


def _boot_id() -> str | None:
    with contextlib.suppress(OSError):
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    return None


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw.rpartition(")")[2].split()


def pid_namespace() -> str | None:
    """This process's pid namespace (Linux), e.g. ``pid:[4026531836]``: pids of another
    namespace (another container) mean nothing here."""
    with contextlib.suppress(OSError):
        return os.readlink("/proc/self/ns/pid")
    return None


def process_start_token(pid: int) -> str | None:
    """What tells this incarnation of ``pid`` from a later process given the same pid.

    Linux: the boot id and the process's start time in clock ticks since boot. None where that
    cannot be read (another OS, or no such process).
    """
    fields = _proc_stat(pid)
    boot = _boot_id()
    if not fields or boot is None or len(fields) < 20:
        return None
    return f"{boot}:{fields[19]}"  # field 22 of stat: starttime


def process_exists(pid: int) -> bool:
    """Whether ``pid`` is a live process on this host (a zombie, killed but not yet reaped by
    its parent, counts as gone)."""
    fields = _proc_stat(pid)
    if fields is not None:
        return fields[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_tags(pid: int | None = None) -> dict[str, str]:
    """The run tags naming the process ``pid`` (this one by default)."""
    pid = os.getpid() if pid is None else pid
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    token, namespace = process_start_token(pid), pid_namespace()
    if token:
        tags[PROCESS_START_TAG] = token
    if namespace:
        tags[PID_NAMESPACE_TAG] = namespace
    return tags


def process_is_gone(tags: dict[str, str]) -> bool:
    """True only when the tags name a process of this host that no longer runs."""
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if tags.get(PID_NAMESPACE_TAG, pid_namespace()) != pid_namespace():
        return False  # a container of the same name: its pids are not ours to look up
    if not process_exists(int(pid)):
        return True
    recorded, current = tags.get(PROCESS_START_TAG), process_start_token(int(pid))
    # the pid was given to another process since (or recorded before the last reboot)
    return bool(recorded and current and recorded != current)


# --------------------------------------------------------------------------- runs


def abandoned_runs(client: MlflowClient, experiment_id: str, current_run_id: str | None) -> list:
    """RUNNING runs of the experiment whose process (tagged by :func:`process_tags`) is gone."""
    runs = client.search_runs(
        [experiment_id], filter_string=f"attributes.status = '{_RUNNING}'", max_results=1000
    )
    return [
        run for run in runs if run.info.run_id != current_run_id and process_is_gone(run.data.tags)
    ]


def close_abandoned_runs(
    client: MlflowClient, experiment_id: str, current_run_id: str | None
) -> list[Run]:
    """Mark KILLED every run left RUNNING by a process that is gone; warn naming each.

    Their logged models still PENDING are marked FAILED. Returns the runs closed.
    """
    closed = []
    for run in abandoned_runs(client, experiment_id, current_run_id):
        tags = run.data.tags
        client.set_terminated(run.info.run_id, _KILLED)
        if current_run_id:
            client.set_tag(run.info.run_id, CLOSED_BY_TAG, current_run_id)
        failed = fail_pending_models(client, experiment_id, run.info.run_id)
        logger.warning(
            "MLflow run %r (%s) was left RUNNING by process %s on %s, which is gone (killed?): "
            "marked KILLED%s",
            run.info.run_name,
            run.info.run_id,
            tags.get(PID_TAG),
            tags.get(HOST_TAG),
            f"; its unfinished logged model(s) {', '.join(failed)} marked FAILED" if failed else "",
        )
        closed.append(run)
    return closed


def fail_pending_models(client: MlflowClient, experiment_id: str, run_id: str) -> list[str]:
    """Mark FAILED the logged models of ``run_id`` that are still PENDING; their ids."""
    models = client.search_logged_models(
        [experiment_id], filter_string=f"source_run_id = '{run_id}'", max_results=100
    )
    failed = []
    for model in models:
        if model.status == LoggedModelStatus.PENDING:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)
            failed.append(model.model_id)
    return failed


# --------------------------------------------------------------------------- store failures

# SQLite's own wording (as sqlite3 and SQLAlchemy relay it) and what it means for mlflow.db.
_SQLITE_FAILURES = (
    (
        "database is locked",
        "another process held a lock on it for longer than MLflow waits for one: an "
        "`mlflow ui`/`mlflow server` or a sqlite3 shell on it, or a run on another "
        "machine sharing the file over a network filesystem",
    ),
    ("database or disk is full", "the disk holding it is full; free some space"),
    (
        "attempt to write a readonly database",
        "it (or its folder, where SQLite writes its journal) is not writable by this user",
    ),
    (
        "unable to open database file",
        "it or its folder cannot be opened for writing: check that the folder exists and "
        "this user may write there",
    ),
    ("disk i/o error", "the disk failed to read or write it (full, removed, or failing)"),
    (
        "file is not a database",
        "the file is damaged or is not an SQLite database; move it aside to start a new store",
    ),
    (
        "database disk image is malformed",
        "the file is damaged; move it aside (or restore a copy) to start a new store",
    ),
)


def sqlite_store_path(tracking_uri: str | None) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI (relative to the working folder)."""
    prefix = "sqlite:///"
    if not tracking_uri or not tracking_uri.startswith(prefix):
        return None
    path = tracking_uri[len(prefix) :].partition("?")[0]
    return Path(path).absolute() if path else None


def describe_store_failure(error: BaseException, tracking_uri: str | None) -> str | None:
    """A sentence naming the SQLite store and the cause, if ``error`` is its failure."""
    store = sqlite_store_path(tracking_uri)
    if store is None:
        return None
    for link in exception_chain(error, follow_suppressed=True):
        text = str(link).lower()
        for phrase, meaning in _SQLITE_FAILURES:
            if phrase in text:
                return (
                    f"MLflow's tracking store {store} failed ({phrase}): {meaning}. Runs it "
                    "could not mark finished are marked KILLED by the next `kedro run`."
                )
    return None
