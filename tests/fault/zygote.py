"""A fork server for `kedro run`: the imports once, then one forked process per run.

A `kedro run` spends most of its start importing torch, MLflow, spaCy and Kedro's plugins (14 s
of 22 s for a one-node run on the 2-core test machine). The fault suite starts dozens of runs
and kills most of them; this server imports those libraries once and forks a fresh process per
run, which then does what the `kedro` command does (`kedro.framework.cli.main()` with the run's
arguments, in the project folder, with its environment) and exits as the command would. Each
run is a separate OS process that can be sent SIGTERM or die by SIGKILL; the server reaps it.

Protocol: one JSON object per line on stdin, one JSON reply per line on stdout.

* ``{"op": "run", "cwd": ..., "argv": [...], "env": {...}, "log": ..., "fsize_limit": n|null}``
  → ``{"pid": pid}`` as soon as the run's process exists;
* ``{"op": "wait", "pid": pid, "timeout": seconds}`` → ``{"pid": pid, "returncode": code}``
  (negative: the signal that ended it; null: still running at the timeout).
"""

from __future__ import annotations

import atexit
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback

PRELOADED = (
    "torch",
    "spacy",
    "datasets",
    "mlflow",
    "mlflow.pyfunc",
    "sklearn.metrics",
    "matplotlib.pyplot",
    "pyarrow.parquet",
    "kedro.framework.cli",
    "kedro.framework.session",
    "kedro_datasets.pandas",
    "kedro_datasets.json",
    "kedro_datasets.matplotlib",
    "kedro_mlflow.framework.hooks",
    "kedro_mlflow.io.artifacts",
    "kedro_mlflow.io.metrics",
    "kedro_mlflow.io.models",
    "kedro_viz.integrations.kedro.hooks",
)


def _run_child(request: dict) -> None:
    """In the forked process: become `kedro <argv>` in ``cwd``; never returns."""
    code = 1
    try:
        os.setpgid(0, 0)  # its own process group: a signal to the test's group misses it
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        if request.get("fsize_limit"):
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a silent death
            limit = int(request["fsize_limit"])
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        from tests.fault import faults  # noqa: PLC0415

        faults.install(os.environ.get(faults.SPEC_ENV), os.environ.get(faults.JOURNAL_ENV))
        from kedro.framework.cli import main  # noqa: PLC0415

        sys.argv = list(request["argv"])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except BaseException:
            traceback.print_exc()
            code = 1
        # what the interpreter does at exit: wait for threads, then the atexit handlers
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.1)


def serve() -> None:
    # replies on the original stdout; anything the libraries print goes to stderr
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    for module in PRELOADED:
        __import__(module)

    def reply(message: dict) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    reply({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                replies.close()
                _run_child(request)
            reply({"pid": pid})
        elif request["op"] == "wait":
            reply({"pid": request["pid"], "returncode": _wait(request["pid"], request["timeout"])})
        else:
            reply({"error": f"unknown op {request['op']!r}"})


if __name__ == "__main__":
    serve()
