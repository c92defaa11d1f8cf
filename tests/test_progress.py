"""Progress: a bar in a terminal, even one that reports no size; log lines elsewhere."""

from __future__ import annotations

import io
import logging
import os
import pty
import time

import pytest

from imdb_sentiment import progress as progress_module
from imdb_sentiment.progress import Progress


def test_off_a_terminal_it_logs_every_n_steps(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()  # not a terminal
    with caplog.at_level(logging.INFO, logger="test.progress"):
        report = Progress(
            100,
            "epoch 1/2",
            every_seconds=None,
            every_steps=3,
            log=logging.getLogger("test.progress"),
            stream=stream,
        )
        for step in range(1, 11):
            report.update(step * 10, step, loss=0.5)
        report.close()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # steps 3, 6, 9
    assert lines[0].startswith("epoch 1/2: 30/100 reviews (30%), ")
    assert lines[0].endswith("reviews/s, loss 0.5000")
    assert stream.getvalue() == ""


def test_off_a_terminal_it_logs_every_n_seconds(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="test.progress"):
        report = Progress(
            10,
            "scoring",
            every_seconds=0.05,
            log=logging.getLogger("test.progress"),
            stream=io.StringIO(),
        )
        report.update(1)
        time.sleep(0.06)
        report.update(2)
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["scoring: 2/10 reviews (20%)"]


def test_disabled_it_reports_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        report = Progress(10, "quiet", enabled=False, every_steps=1, stream=io.StringIO())
        report.update(5, 1)
    assert not caplog.records


@pytest.mark.skipif(progress_module.tqdm is None, reason="needs tqdm")
def test_a_pseudo_terminal_without_a_size_still_shows_the_bar() -> None:
    # `script -qc "kedro run" /dev/null` gives a 0x0 terminal: tqdm alone draws nothing there.
    master, slave = pty.openpty()
    try:
        with os.fdopen(os.dup(slave), "w") as terminal:
            assert os.get_terminal_size(terminal.fileno()).columns == 0
            report = Progress(40, "epoch 3/8", stream=terminal)
            assert report.uses_bar
            report.update(20, 1, loss=0.25)
            report._bar.refresh()
            report.close()
            terminal.flush()
        drawn = os.read(master, 65536).decode(errors="replace")
    finally:
        os.close(master)
        os.close(slave)
    assert "epoch 3/8" in drawn
    assert "20/40" in drawn
