"""Progress of long loops: a bar on a terminal, a log line every N steps or seconds elsewhere.

Used by training (reviews per epoch) and batch prediction (reviews scored). Standard library,
plus tqdm for the bar when it is installed, so the torch-only modules can use it.

A pseudo-terminal without a size (``script -qc "kedro run" /dev/null``, some CI runners)
reports 0 rows and 0 columns; tqdm then draws nothing at all, so the bar is given the
``COLUMNS``/``LINES`` fallback size (80x24) instead.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from typing import Any

try:  # optional: the bar
    from tqdm import tqdm
except ImportError:  # pragma: no cover - exercised where tqdm is absent
    tqdm = None

logger = logging.getLogger(__name__)


def is_terminal(stream: Any = None) -> bool:
    """Whether ``stream`` (default: stderr, where the bar goes) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _bar_size(stream: Any) -> tuple[int | None, int | None]:
    """``(columns, rows)`` for tqdm: None (tqdm measures) unless the terminal reports 0."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None, None
    if size.columns > 0 and size.lines > 0:
        return None, None
    fallback = shutil.get_terminal_size()  # COLUMNS / LINES, else 80x24
    return fallback.columns, fallback.lines


class Progress:
    """Reports ``done`` of ``total`` units: a tqdm bar on a terminal, else log lines.

    ``update(done, step, **figures)`` takes the absolute count and the step (batch) number;
    off a terminal a line is logged when ``every_seconds`` have passed or ``every_steps``
    steps were taken since the last one (either may be None). With ``enabled=False`` it
    reports nothing.
    """

    def __init__(  # noqa: PLR0917
        self,
        total: int,
        description: str,
        unit: str = "reviews",
        enabled: bool = True,
        every_seconds: float | None = 30.0,
        every_steps: int | None = None,
        log: logging.Logger | None = None,
        stream: Any = None,
    ) -> None:
        self.total = total
        self.description = description
        self.unit = unit
        self.every_seconds = every_seconds
        self.every_steps = every_steps
        self.log = log or logger
        self.done = 0
        self._started = time.perf_counter()
        self._last_time = self._started
        self._last_step = 0
        self._enabled = enabled
        self._bar = None
        stream = sys.stderr if stream is None else stream
        if enabled and tqdm is not None and is_terminal(stream):
            columns, rows = _bar_size(stream)
            self._bar = tqdm(
                total=total,
                desc=description,
                unit=unit.rstrip("s") or unit,
                unit_scale=False,
                ncols=columns,
                nrows=rows,
                file=stream,
                leave=False,
            )

    @property
    def uses_bar(self) -> bool:
        return self._bar is not None

    def update(self, done: int, step: int | None = None, **figures: float) -> None:
        """``done`` units so far (absolute), at ``step``; ``figures`` shown beside them."""
        self.done = done
        if not self._enabled:
            return
        if self._bar is not None:
            self._bar.update(done - self._bar.n)
            if figures:
                self._bar.set_postfix({k: f"{v:.4f}" for k, v in figures.items()}, refresh=False)
            return
        now = time.perf_counter()
        due_time = self.every_seconds is not None and now - self._last_time >= self.every_seconds
        due_step = (
            self.every_steps is not None
            and step is not None
            and step - self._last_step >= self.every_steps
        )
        if due_time or due_step:
            self._log_line(figures)
            self._last_time = now
            self._last_step = step if step is not None else self._last_step

    def _log_line(self, figures: dict[str, float]) -> None:
        elapsed = time.perf_counter() - self._started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        extra = "".join(f", {name} {value:.4f}" for name, value in figures.items())
        self.log.info(
            "%s: %d/%d %s%s, %.0f %s/s%s",
            self.description,
            self.done,
            self.total,
            self.unit,
            share,
            rate,
            self.unit,
            extra,
        )

    def close(self) -> None:
        """Remove the bar (the caller logs what the loop achieved)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
