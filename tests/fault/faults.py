"""A test-only Kedro plugin that kills its own process (SIGKILL, as `kill -9`) at a named point.

Installed by :mod:`tests.fault.zygote` in a run's process when ``IMDB_FAULT`` names a point:

* ``before_node:<node>``: as the node starts (its inputs loaded, nothing of it saved);
* ``after_node:<node>``: once the node's last output is saved (the boundary to the next node);
* ``pipeline_end``: after the last node, before kedro-mlflow ends the MLflow run;
* ``save:<file name>``: inside a save, the temporary file complete, just before the rename
  that would publish it (``os.replace`` onto a file of that name);
* ``call:<module>:<attribute path>``: when that function is called (e.g. inside MLflow's
  model logging);
* ``hold:<node>``: not a kill: as the node starts, wait until the file ``IMDB_FAULT_GATE``
  names exists (a test holds a run there while it starts another).

Nothing the project ships is replaced: the hooks are registered beside the project's and the
plugins', and ``os.replace`` / the named function are wrapped to die first, then do their work.
``IMDB_FAULT_JOURNAL`` names a file to which every output published by a rename is appended,
so a test knows which files a killed run replaced.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from imdb_sentiment.atomic import is_temporary

SPEC_ENV = "IMDB_FAULT"
JOURNAL_ENV = "IMDB_FAULT_JOURNAL"
GATE_ENV = "IMDB_FAULT_GATE"
KILLED_MARK = "FAULT INJECTED: SIGKILL at"
HELD_MARK = "FAULT INJECTED: held at"


def die(where: str) -> None:
    """SIGKILL this process, saying where in its log first."""
    print(f"{KILLED_MARK} {where}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)


class FaultHooks:
    """The node and pipeline kill points."""

    def __init__(self, kind: str, target: str) -> None:
        self.kind, self.target = kind, target
        self._unsaved: set[str] | None = None

    @hook_impl(tryfirst=True)
    def before_node_run(self, node) -> None:
        if node.name != self.target:
            return
        if self.kind == "before_node":
            die(f"the start of node {node.name}")
        if self.kind == "hold":
            gate = Path(os.environ[GATE_ENV])
            print(f"{HELD_MARK} the start of node {node.name}", file=sys.stderr, flush=True)
            while not gate.exists():
                time.sleep(0.1)
        if self.kind == "after_node":
            self._unsaved = set(node.outputs)

    @hook_impl(tryfirst=True)
    def after_node_run(self, node) -> None:
        if self.kind == "after_node" and node.name == self.target and not node.outputs:
            die(f"the end of node {node.name} (it has no outputs)")

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        if self._unsaved is None:
            return
        self._unsaved.discard(dataset_name)
        if not self._unsaved:
            die(f"the end of node {self.target}, every output saved")

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        if self.kind == "pipeline_end":
            die("the end of the pipeline, before the MLflow run is ended")


def _wrap_os_replace(kill_name: str | None, journal: str | None) -> None:
    original = os.replace

    @functools.wraps(original)
    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        ours = is_temporary(Path(os.fsdecode(src)))
        if ours and kill_name is not None and Path(os.fsdecode(dst)).name == kill_name:
            die(f"the save of {os.fsdecode(dst)}, before its rename")
        original(src, dst, *args, **kwargs)
        if ours and journal:
            with open(journal, "a", encoding="utf-8") as handle:
                handle.write(f"{Path(os.fsdecode(dst)).resolve()}\n")

    os.replace = replace


def _wrap_call(target: str) -> None:
    module_name, _, attribute_path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, name = attribute_path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)

    @functools.wraps(original)
    def dying(*args: Any, **kwargs: Any) -> Any:
        die(f"a call of {target}")
        return original(*args, **kwargs)  # pragma: no cover - never reached

    setattr(owner, name, dying)


def install(spec: str | None, journal: str | None) -> None:
    """Arm the kill point ``spec`` (see the module docstring) in this process."""
    kind, _, target = (spec or "").partition(":")
    _wrap_os_replace(target if kind == "save" else None, journal)
    if kind == "call":
        _wrap_call(target)
    if kind not in {"before_node", "after_node", "pipeline_end", "hold"}:
        return
    from kedro.framework.session import session  # noqa: PLC0415

    register_plugins = session._register_hooks_entry_points

    def register_with_faults(hook_manager, disabled_plugins) -> None:
        register_plugins(hook_manager, disabled_plugins)
        hook_manager.register(FaultHooks(kind, target))

    session._register_hooks_entry_points = register_with_faults
