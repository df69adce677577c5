"""JSON documents in and out of the database: orjson, with the standard library where orjson refuses.

A runtime commit reads and writes a SCO's whole state document (~12 KB for a SCORM 2004 SCO with
20 interactions and 4 KB of suspend data). The standard library's encoder took ~55 µs and its
decoder ~35 µs for it, about an eighth of a commit's CPU; orjson takes 4 µs and 16 µs
(issue 16, ``bench/bench_commits.py``).

* :func:`dumps` is the engine's ``json_serializer`` (every JSON column, both databases). What orjson
  cannot encode is encoded as before: an integer past 64 bits, a string with a lone surrogate
  (``"\\ud800"`` in a request body decodes to one), a key that is not a string.
* :func:`loads` decodes the documents the runtime writes itself (state values are strings, outcome
  scores finite floats), read as text on the commit's hot path. It is not the engine's
  deserializer: orjson reads an integer past 64 bits as a float, and other columns (an LRS's
  documents) hold numbers a client sent. What orjson refuses (a ``\\ud800`` escape) is decoded by
  the standard library.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(document: Any) -> str:
    """``document`` as JSON text (compact; non-ASCII characters as they are)."""
    try:
        return orjson.dumps(document).decode()
    except TypeError:
        return json.dumps(document)  # ASCII escapes: a lone surrogate cannot be sent as UTF-8


def loads(text: str | bytes) -> Any:
    """A document the runtime wrote (see the module docstring for why only those)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
