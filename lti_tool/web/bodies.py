"""The one reader of JSON request bodies: size (chunked bodies too), nesting depth and numbers bounded.

Every endpoint that reads a JSON body goes through :func:`read_json_object`, so hostile bodies
get a 400 or 413 with a stable code and never reach ``json.loads`` unbounded:

* size: a ``Content-Length`` over the limit is refused before anything is read; a body without
  one (``Transfer-Encoding: chunked``) is read up to one byte past the limit, and that byte
  means 413 (Werkzeug alone would silently cut it at the limit, and the cut body read as "not
  JSON");
* depth: ``json.loads`` recurses, so a body nested past the interpreter's recursion limit
  (100,000 brackets) stops the parser at once (``RecursionError``, caught: 400), and what it
  did parse is measured without recursion against ``max_depth`` (bodies with few brackets skip
  the walk: their depth cannot exceed their bracket count);
* numbers: integers beyond what a browser can represent exactly (±2^53 - 1), ``NaN``,
  ``Infinity`` and floats that overflow are refused (they would fail later in the database or
  in the JSON written back).

Endpoints that authenticate with a header check it before calling this.
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import request

from lti_tool.errors import AppError

MAX_DEPTH = 32
MAX_SAFE_INTEGER = 2**53 - 1
_CONTAINERS = (dict, list)  # json.loads builds exactly these


class BodyRefused(AppError):
    """The request body is not a JSON object this service accepts."""

    code = "invalid_json"
    status = 400


def _refuse_constant(name: str) -> Any:
    raise BodyRefused(f"{name} is not a JSON number", code="json_number_out_of_range")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 16 or abs(value := int(text)) > MAX_SAFE_INTEGER:
        raise BodyRefused(
            f"whole numbers must lie between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}",
            code="json_number_out_of_range",
        )
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused("a number in the body is too large", code="json_number_out_of_range")
    return value


def nesting_depth(value: Any, stop_after: int | None = None) -> int:
    """How deeply the arrays and objects of a parsed JSON ``value`` nest (level by level, no recursion).

    ``stop_after``: stop counting once the depth exceeds it (the answer is then ``stop_after + 1``).
    """
    depth = 0
    level = [value] if isinstance(value, dict | list) else []
    while level and (stop_after is None or depth <= stop_after):
        depth += 1
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if type(child) in _CONTAINERS
        ]
    return depth


def read_json_object(max_bytes: int, *, max_depth: int = MAX_DEPTH, what: str = "the request body") -> dict[str, Any]:
    """The request's JSON object body (an empty body reads as ``{}``).

    Raises:
        BodyRefused: 413 ``body_too_large``; 400 ``invalid_json`` (not UTF-8 JSON),
            ``json_too_deep``, ``json_number_out_of_range`` or ``json_not_object``.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes, what)
    request.max_content_length = max_bytes + 1
    return parse_json_object(request.get_data(cache=True), max_bytes, max_depth=max_depth, what=what)


def _too_large(max_bytes: int, what: str) -> BodyRefused:
    return BodyRefused(f"{what} is larger than {max_bytes} bytes", code="body_too_large", status=413)


def _too_deep(max_depth: int, what: str) -> BodyRefused:
    return BodyRefused(f"{what} nests deeper than {max_depth} levels", code="json_too_deep")


def parse_json_object(
    raw: bytes, max_bytes: int, *, max_depth: int = MAX_DEPTH, what: str = "the request body"
) -> dict[str, Any]:
    """The JSON object in ``raw``, a body already read (:func:`read_json_object`'s checks after the read).

    Raises:
        BodyRefused: as :func:`read_json_object`.
    """
    if len(raw) > max_bytes:
        raise _too_large(max_bytes, what)
    try:
        text = raw.decode("utf-8") if raw else "{}"
    except UnicodeDecodeError as exc:
        raise BodyRefused(f"{what} is not UTF-8 JSON") from exc
    try:
        body = json.loads(text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_refuse_constant)
    except BodyRefused:
        raise
    except RecursionError as exc:
        raise _too_deep(max_depth, what) from exc
    except ValueError as exc:
        raise BodyRefused(f"{what} is not JSON") from exc
    if text.count("[") + text.count("{") > max_depth and nesting_depth(body, max_depth) > max_depth:
        raise _too_deep(max_depth, what)
    if not isinstance(body, dict):
        raise BodyRefused(f"{what} must be a JSON object", code="json_not_object")
    return body
