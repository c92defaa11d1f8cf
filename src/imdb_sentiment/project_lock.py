"""One run at a time in a project folder: an OS file lock that a killed process gives back.

``fcntl.flock`` on ``<project>/.kedro_run.lock``: the kernel drops the lock when its holder exits,
however it exits (``kill -9`` included), so a dead run never blocks the next one. The file also
holds who has the lock (pid, host, start time, command, pipelines), for the message a second run
prints. A run that ends normally empties the file; a run that finds it non-empty when it gets
the lock knows its predecessor was killed, and says so.

A second run refuses at once (exit code 1, one line naming the running one), unless
``IMDB_SENTIMENT_LOCK_WAIT`` gives a number of seconds to wait for the lock first.

The lock can also be taken shared, by the tasks of one orchestrated run (Airflow runs each node
as a task, independent ones side by side): they run beside each other, while an ordinary run
waits for (or refuses beside) any of them, and they for it. Shared holders record nothing.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import click

try:
    import fcntl
except ImportError:  # Windows: no flock; runs go unlocked, with a warning
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

LOCK_FILE = ".kedro_run.lock"
WAIT_ENV = "IMDB_SENTIMENT_LOCK_WAIT"
_NO_DETAILS = "no details: the tasks of an orchestrated run, or a run just starting"
_POLL_SECONDS = 0.5
_REMIND_SECONDS = 30.0


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) the lock, as written into the lock file."""

    pid: int
    host: str
    started: str  # ISO 8601, local time with offset
    command: str
    pipelines: str

    @classmethod
    def this_process(cls, pipelines: list[str] | None) -> LockHolder:
        argv = list(sys.argv) or ["python"]
        argv[0] = Path(argv[0]).name
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started=datetime.now().astimezone().isoformat(timespec="seconds"),
            command=" ".join(argv),
            pipelines="+".join(pipelines or ["__default__"]),
        )

    def describe(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return (
            f"pid {self.pid}{where}, started {self.started}, `{self.command}` "
            f"(pipelines {self.pipelines})"
        )


class ProjectBusyError(click.ClickException):
    """Another run holds the project lock. (A click error: the CLI prints one line, exit 1.)"""


def wait_seconds_from_env() -> float:
    """``IMDB_SENTIMENT_LOCK_WAIT`` as seconds; 0 (refuse at once) when unset."""
    raw = os.environ.get(WAIT_ENV, "").strip()
    if not raw:
        return 0.0
    try:
        seconds = float(raw)
    except ValueError:
        raise click.ClickException(
            f"{WAIT_ENV}={raw!r}: expected a number of seconds to wait for another run"
        ) from None
    if seconds < 0:
        raise click.ClickException(f"{WAIT_ENV}={raw!r}: expected 0 or more seconds")
    return seconds


class ProjectLock:
    """The project's run lock; :meth:`acquire` then :meth:`release` (or the process ends)."""

    def __init__(self, project_path: str | os.PathLike) -> None:
        self.path = Path(project_path) / LOCK_FILE
        self._fd: int | None = None
        self._shared = False

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(
        self, holder: LockHolder, wait_seconds: float = 0.0, shared: bool = False
    ) -> LockHolder | None:
        """Take the lock for ``holder``, waiting up to ``wait_seconds`` for a running run.

        Raises :class:`ProjectBusyError` naming the running one if it is still held then.
        Returns the holder recorded by a predecessor that died holding the lock (taken
        over), or None. ``shared``: beside other shared holders (see the module's docstring).
        """
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is already held by this process")
        if fcntl is None:
            logger.warning("No flock on this platform: runs in %s are not serialised", self.path)
            return None
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            self._lock(fd, wait_seconds, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
            stale = None
            if not shared:
                stale = _read_holder(fd)
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._shared = fd, shared
        return stale

    def _lock(self, fd: int, wait_seconds: float, mode: int) -> None:
        if _try_lock(fd, mode):
            return
        running = _read_holder(fd)
        who = running.describe() if running else _NO_DETAILS
        if wait_seconds <= 0:
            raise ProjectBusyError(
                f"another kedro run is writing this project's outputs ({who}). Wait for it to "
                f"end, or set {WAIT_ENV}=<seconds> to wait for it (lock file {self.path})."
            )
        logger.warning(
            "Another kedro run is writing this project's outputs (%s); waiting up to %.0f s "
            "for it to end",
            who,
            wait_seconds,
        )
        deadline = time.monotonic() + wait_seconds
        remind = time.monotonic() + _REMIND_SECONDS
        while not _try_lock(fd, mode):
            now = time.monotonic()
            if now >= deadline:
                running = _read_holder(fd) or running
                who = running.describe() if running else _NO_DETAILS
                raise ProjectBusyError(
                    f"another kedro run is still writing this project's outputs after "
                    f"{wait_seconds:.0f} s of waiting ({who}); lock file {self.path}"
                )
            if now >= remind:
                logger.info("Still waiting for the run holding %s (%s)", self.path, who)
                remind = now + _REMIND_SECONDS
            time.sleep(min(_POLL_SECONDS, max(deadline - now, 0.0)))

    def release(self) -> None:
        """Empty the lock file (a clean end) and give the lock back."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if not self._shared:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _try_lock(fd: int, mode: int) -> bool:
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _read_holder(fd: int) -> LockHolder | None:
    """The holder recorded in the lock file, or None when it is empty or unreadable."""
    try:
        raw = os.pread(fd, 65536, 0)
        data: dict[str, Any] = json.loads(raw) if raw.strip() else {}
        return LockHolder(**data) if data else None
    except (OSError, ValueError, TypeError):
        return None
