"""The pure SCORM data model: ``get_value``, ``set_value`` and ``apply_commit``.

State document (plain JSON; what the storage layer persists per SCO attempt)::

    {
      "version": "1.2" | "2004",
      "values": {"cmi.core.lesson_status": "incomplete",
                 "cmi.interactions.0.id": "q1", ...},      # concrete element -> string
      "counts": {"cmi.interactions": 1,
                 "cmi.interactions.0.objectives": 2, ...}   # concrete array path -> _count
    }

``values`` holds only what was set (by the LMS at initialisation or by the SCO); defaults of the
element table are served for missing keys. Keywords (``_children``, ``_count``, ``_version``) are
never stored: they are derived from the tables and ``counts``. Functions never mutate their input:
they return a new document (``values``/``counts`` copied once, shallowly — all values are strings).

The implementation lives in responsibility modules, re-exported here:
``scorm.cmi.paths`` (element-path parsing, compiled plans), ``scorm.cmi.state`` (the document,
evaluated elements), ``scorm.cmi.access`` (get/set) and ``scorm.cmi.commit`` (``apply_commit``).
"""

from __future__ import annotations

from scorm.cmi.access import get_value, get_value_kind, set_value
from scorm.cmi.commit import (
    TRUNCATE_AT,
    CommitResult,
    Rejection,
    apply_commit,
    commit_order_key,
)
from scorm.cmi.paths import CACHEABLE_NAME_LENGTH, normalise_element
from scorm.cmi.state import (
    SHARED_DATA_ACCESS,
    empty_state,
    evaluated_completion_status,
    evaluated_success_status,
)

__all__ = [
    "CACHEABLE_NAME_LENGTH",
    "SHARED_DATA_ACCESS",
    "TRUNCATE_AT",
    "CommitResult",
    "Rejection",
    "apply_commit",
    "commit_order_key",
    "empty_state",
    "evaluated_completion_status",
    "evaluated_success_status",
    "get_value",
    "get_value_kind",
    "normalise_element",
    "set_value",
]
