"""The SIGTERM handler a run installs: its own process only; forked workers keep the default."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import pytest

from imdb_sentiment.run_safety import MlflowRunStateHooks, RunTerminated


def _handler_in_child(queue) -> None:
    queue.put(signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)


def test_sigterm_raises_in_the_run_and_forked_workers_keep_the_default() -> None:
    hooks = MlflowRunStateHooks()
    previous = signal.getsignal(signal.SIGTERM)
    hooks._install_sigterm_handler()
    try:
        assert signal.getsignal(signal.SIGTERM) == hooks._on_sigterm
        context = mp.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_handler_in_child, args=(queue,))
        child.start()
        child.join(timeout=30)
        assert queue.get(timeout=5) is True  # a worker dies on SIGTERM, as it would have
        with pytest.raises(RunTerminated):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0.1)  # give the handler its turn
        assert hooks._terminated
        assert signal.getsignal(signal.SIGTERM) == previous  # a second SIGTERM: the default
    finally:
        hooks._restore_sigterm_handler()
        signal.signal(signal.SIGTERM, previous)
