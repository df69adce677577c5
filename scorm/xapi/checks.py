"""The value checks the xAPI statement rules are built from, and :class:`StatementError`.

Each check raises :class:`StatementError` naming the JSON path and the broken rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scorm.xapi.formats import is_iri, is_uuid


class StatementError(ValueError):
    """A statement (or a part of one) breaks an xAPI rule."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.rule = message


def _fail(path: str, message: str) -> StatementError:
    return StatementError(path, message)


def _obj(value: object, path: str, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _fail(path, f"{what} must be a JSON object, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _keys(obj: Mapping[str, Any], path: str, allowed: frozenset[str] | set[str] | tuple[str, ...], what: str) -> None:
    if type(allowed) is not tuple and obj.keys() <= allowed and None not in obj.values():  # type: ignore[operator]
        return  # the usual case, judged in C; otherwise find the first offending property
    for key, value in obj.items():
        if key not in allowed:
            raise _fail(f"{path}.{key}", f"unknown property of {what} (allowed: {', '.join(sorted(allowed))})")
        if value is None:
            raise _fail(f"{path}.{key}", "must not be null")


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, f"must be a string, got {_kind(value)}")
    return value


def _iri(value: object, path: str) -> str:
    if not is_iri(value):
        raise _fail(path, f"must be an absolute IRI (scheme:...), got {value!r}")
    return str(value)


def _bool(value: object, path: str) -> None:
    if not isinstance(value, bool):
        raise _fail(path, f"must be true or false, got {_kind(value)}")


def _number(value: object, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(path, f"must be a number, got {_kind(value)}")
    return float(value)


def _uuid(value: object, path: str) -> None:
    if not is_uuid(value):
        raise _fail(path, f"must be a UUID (8-4-4-4-12 hex digits), got {value!r}")
