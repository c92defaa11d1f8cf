"""What every benchmark result carries (date, machine, load) and how it is written."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: how busy the shared machine was."""
    return [round(x, 2) for x in os.getloadavg()]


def stamp() -> dict[str, Any]:
    """Date, machine and load at the start of a measurement."""
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_average_before": load_average(),
    }


def publish(result: dict[str, Any], out: Path | None) -> dict[str, Any]:
    """Print ``result`` as JSON and write it to ``out`` (if given); return it."""
    text = json.dumps(result, indent=2)
    print(text)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return result
