"""Dataclass settings that round-trip through plain dicts (parameters, checkpoints).

``from_dict`` checks every value against the field's annotation and refuses unknown keys, so a
typo or a bad value is an error naming its dotted key (``features.min_frq``,
``training.learning_rate``), not a silent default. Standard library only: the torch-only
modules build their configurations with it.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
from collections.abc import Mapping
from typing import Any, Literal, Self, Union, get_args, get_origin, get_type_hints

from imdb_sentiment.errors import ExpectedFailure


class SettingsError(ValueError, ExpectedFailure):
    """A setting that is unknown, missing or out of range, named by its dotted key."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}" if key else problem)
        self.key = key
        self.problem = problem

    def under(self, prefix: str) -> SettingsError:
        """The same error for a setting one level down, under ``prefix``."""
        return SettingsError(dotted(prefix, self.key), self.problem)


def dotted(prefix: str, key: str) -> str:
    """``training`` + ``epochs`` -> ``training.epochs``; either part may be empty."""
    return f"{prefix}.{key}" if prefix and key else prefix or key


def refuse_unknown(data: Mapping[str, Any], known: list[str], path: str) -> None:
    """Raise for keys of ``data`` outside ``known``, suggesting the closest known one."""
    unknown = [key for key in data if key not in known]
    if not unknown:
        return
    guess = difflib.get_close_matches(str(unknown[0]), known, n=1)
    hint = f"did you mean {guess[0]}? " if guess else ""
    raise SettingsError(
        ", ".join(dotted(path, str(key)) for key in unknown),
        f"unknown setting ({hint}known: {', '.join(known)})",
    )


def _shown(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if not isinstance(value, str) else repr(value)


def check_value(annotation: Any, value: Any, key: str) -> Any:  # noqa: PLR0911 - one per kind
    """``value`` checked against a field annotation (and converted where lossless)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [arg for arg in args if arg is not type(None)]
        errors = []
        for option in options:
            try:
                return check_value(option, value, key)
            except SettingsError as error:
                errors.append(error.problem)
        nullable = " or null" if type(None) in args else ""
        raise SettingsError(key, f"{' / '.join(errors)}{nullable}")
    if origin is Literal:
        if value not in args:
            raise SettingsError(key, f"must be one of {list(args)}, got {_shown(value)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise SettingsError(key, f"must be a list, got {_shown(value)}")
        item = args[0] if args else Any
        return origin(check_value(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise SettingsError(key, f"must be a mapping, got {_shown(value)}")
        return dict(value)
    if isinstance(annotation, type) and issubclass(annotation, DictSettings):
        return annotation.from_dict(value, key)
    if annotation is bool:
        if not isinstance(value, bool):
            raise SettingsError(key, f"must be true or false, got {_shown(value)}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(key, f"must be an integer, got {_shown(value)}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(key, f"must be a number, got {_shown(value)}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise SettingsError(key, f"must be a string, got {_shown(value)}")
        return value
    raise TypeError(f"{key}: settings of type {annotation!r} are not supported")


class DictSettings:
    """``to_dict``/``from_dict`` for a dataclass; unknown keys and bad values are errors.

    ``__post_init__`` of a subclass raises :class:`SettingsError` with the field's name for an
    out-of-range value; ``from_dict`` prefixes it with where the settings sit.
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain values (tuples as lists), in field order."""
        return _plain(dataclasses.asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: Any, path: str = "") -> Self:
        """Settings from a mapping such as ``params:training``; ``path`` names it in errors."""
        if not isinstance(data, Mapping):
            raise SettingsError(path, f"must be a mapping of settings, got {_shown(data)}")
        fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
        refuse_unknown(data, [f.name for f in fields], path)
        hints = get_type_hints(cls)
        values = {}
        for field in fields:
            key = dotted(path, field.name)
            if field.name in data:
                values[field.name] = check_value(hints[field.name], data[field.name], key)
            elif (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise SettingsError(key, "is missing")
        try:
            return cls(**values)
        except SettingsError as error:
            raise error.under(path) from None


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
