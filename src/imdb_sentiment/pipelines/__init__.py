"""The project's pipelines, one package each (``find_pipelines`` registers them)."""

from collections.abc import Callable
from functools import partial, update_wrapper
from typing import Any

SPLITS = ("train", "valid", "test")


def bound(func: Callable[..., Any], **arguments: Any) -> Callable[..., Any]:
    """``func`` with some keyword arguments bound, keeping its name for Kedro."""
    return update_wrapper(partial(func, **arguments), func)


def for_split(func: Callable[..., Any], split: str) -> Callable[..., Any]:
    """``func`` with its ``split`` argument bound (for messages), keeping its name for Kedro."""
    return bound(func, split=split)
