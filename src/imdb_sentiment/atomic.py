"""Write a file whole or not at all: a temporary file beside it, then an atomic rename.

The temporary file is ``.<name>.<8 random characters>.tmp`` in the target's folder (the same
filesystem, so the rename is atomic). A process killed mid-write (``kill -9``, a power cut)
leaves such a file behind and the target untouched; :func:`remove_temporaries` clears them.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, BinaryIO

TEMPORARY_SUFFIX = ".tmp"
# What tempfile.mkstemp/mkdtemp make of prefix ".<name>." and suffix ".tmp": 8 characters of
# tempfile's alphabet (lowercase letters, digits, underscore) in between.
_TEMPORARY_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def _umask() -> int:
    """The process umask (reading it means setting it; put straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_prefix(path: Path) -> str:
    """The prefix of the temporary names used while ``path`` is written."""
    return f".{path.name}."


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named as this module names its temporary files and folders."""
    return bool(_TEMPORARY_NAME.match(path.name))


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``path`` only if the block finishes.

    A failure (a full disk, an exception, Ctrl-C) leaves whatever was at ``path`` before
    untouched and removes the temporary file. The content is flushed to the disk (``fsync``)
    before the rename, so that the rename never publishes a file whose blocks are not written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=temporary_prefix(path), suffix=TEMPORARY_SUFFIX
    )
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 would hide the file from others
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(
    path: str | os.PathLike,
    mode: str = "wb",
    encoding: str | None = None,
    newline: str | None = None,
) -> Iterator[IO]:
    """:func:`atomic_write` for ``open``-style write modes (``"w"``, ``"wb"``, ``"wt"``)."""
    if set(mode) - set("wbt") or "w" not in mode:
        raise ValueError(f"atomic_open writes a whole file: mode 'w' or 'wb', got {mode!r}")
    with atomic_write(path) as handle:
        if "b" in mode:
            yield handle
            return
        text = io.TextIOWrapper(handle, encoding=encoding or "utf-8", newline=newline)
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # the binary handle is closed by atomic_write


def make_temporary_dir(parent: str | os.PathLike, name: str) -> Path:
    """A fresh folder ``.<name>.<random>.tmp`` in ``parent``, cleared by
    :func:`remove_temporaries` if its owner is killed before removing it."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=parent, prefix=f".{name}.", suffix=TEMPORARY_SUFFIX))


def remove_temporaries(root: str | os.PathLike) -> list[Path]:
    """Delete the temporary files and folders a killed writer left under ``root``.

    Only names made by this module (``.<name>.<8 characters>.tmp``) are touched; call it only
    while no other process writes under ``root`` (the project lock guarantees that for runs).
    Returns what was removed.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    removed = []
    for folder, subfolders, files in os.walk(root):
        for name in files:
            candidate = Path(folder) / name
            if is_temporary(candidate):
                candidate.unlink(missing_ok=True)
                removed.append(candidate)
        for name in list(subfolders):
            candidate = Path(folder) / name
            if is_temporary(candidate) and not candidate.is_symlink():
                shutil.rmtree(candidate, ignore_errors=True)
                subfolders.remove(name)
                removed.append(candidate)
    return removed
