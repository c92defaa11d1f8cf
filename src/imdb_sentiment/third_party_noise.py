"""Third-party noise, silenced by message, before it reaches the log of every command.

Each entry is a warning or log line that Kedro, kedro-mlflow or MLflow print on every run, that
says nothing about this project's run and that no setting of ours can avoid. They are matched
by message (and category or logger), never by module alone, so any other warning of the same
library still shows. ``settings.py`` calls :func:`silence_third_party_noise` (Kedro imports it
before it loads the pipelines or the configuration); logger levels that hide whole lines live
in ``conf/logging.yml``. Nothing here patches a library.
"""

from __future__ import annotations

import logging
import re
import warnings

# (message regex, category): Python warnings, matched at the start of the message.
PYTHON_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # Kedro 1.7's OmegaConfigLoader and kedro-mlflow 2.0.3's hook call OmegaConf's deprecated
    # register_new_resolver(); 14 lines each, 3-4 times a run.
    (r"register_new_resolver\(\) is deprecated", UserWarning),
)

# logger name -> message regexes: log lines, matched anywhere in the message.
LOG_LINES: dict[str, tuple[str, ...]] = {
    # Python warnings as Kedro's log shows them (its handler captures warnings into the
    # `py.warnings` logger). MLflow asks every PythonModel subclass (kedro-mlflow's and ours)
    # for type hints on predict(), inside its own "once" filter that overrides any "ignore";
    # ours has an explicit signature instead (text in; probability, label out).
    "py.warnings": (r"UserWarning: (\x1b\[[\d;]*m)?Add type hints to the `predict` method",),
    # MLflow's advice to log models as code; ours is pickled on purpose (weights, vocabulary
    # and tokenizer settings travel inside it) and its code travels in code_paths.
    "mlflow.pyfunc": (r"Passing a Python object as `python_model` causes it to be serialized",),
}


class DropMessages(logging.Filter):
    """Drops the records of one logger whose message matches one of ``patterns``."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        super().__init__()
        self.patterns = tuple(re.compile(pattern) for pattern in patterns)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(pattern.search(message) for pattern in self.patterns)


def silence_third_party_noise() -> None:
    """Install the filters above (once per process; calling again changes nothing)."""
    for message, category in PYTHON_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=category)
    for name, patterns in LOG_LINES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, DropMessages) for f in logger.filters):
            logger.addFilter(DropMessages(patterns))
