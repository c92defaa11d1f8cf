"""Dataclass settings that round-trip through plain dicts (parameters, checkpoints)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, Self


class DictSettings:
    """``to_dict``/``from_dict`` for a dataclass; an unknown key is an error, not ignored."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        known = {field.name for field in fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown settings {unknown}; known: {sorted(known)}")
        return cls(**data)
