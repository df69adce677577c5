"""The SCORM state document (one per SCO attempt) and its evaluated elements.

See ``scorm.cmi.model`` for the document's shape. Pure, stdlib-only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from scorm.cmi.errors import InvalidStateError, UnknownVersionError, Version, normalise_version

# adl.data.n.store permissions (RTE 4th §4.3; CAM 4th adlcp:map readSharedData /
# writeSharedData): the LMS records each entry's permissions in the state document under this
# LMS-only key, which is not an element (a SCO can neither read nor write it). Its value holds
# "r" when the SCO may read the store and "w" when it may write it; absent = both.
SHARED_DATA_ACCESS: Final = "adl.data.{}.~access"


def _shared_data_access(values: Mapping[str, str], index: int) -> str:
    return values.get(SHARED_DATA_ACCESS.format(index), "rw")


# ---------------------------------------------------------------------------------------------
# State document helpers.
# ---------------------------------------------------------------------------------------------


def empty_state(version: str) -> dict[str, Any]:
    """A state document with nothing set (defaults of the tables apply)."""
    return {"version": normalise_version(version), "values": {}, "counts": {}}


def _unpack(state: Mapping[str, Any], version: str) -> tuple[Version, dict[str, str], dict]:
    v = normalise_version(version)
    try:
        values = state["values"]
        counts = state["counts"]
        doc_version = state["version"]
    except (KeyError, TypeError) as exc:
        raise InvalidStateError(
            "State document must be a mapping with 'version', 'values' and 'counts'."
        ) from exc
    try:
        same = normalise_version(doc_version) == v
    except UnknownVersionError as exc:
        raise InvalidStateError(f"State document has unknown version {doc_version!r}.") from exc
    if not same:
        raise InvalidStateError(f"State document is SCORM {doc_version}, not {v}.")
    if not isinstance(values, dict) or not isinstance(counts, dict):
        raise InvalidStateError("State 'values' and 'counts' must be objects.")
    return v, values, counts


def _pack(version: Version, values: dict[str, str], counts: dict[str, int]) -> dict[str, Any]:
    return {"version": version, "values": values, "counts": counts}


# ---------------------------------------------------------------------------------------------
# Evaluated elements (SCORM 2004 4th §4.2.4.1 and §4.2.22.1).
# ---------------------------------------------------------------------------------------------


def evaluated_completion_status(values: Mapping[str, str]) -> str:
    """``cmi.completion_status`` as GetValue must report it (RTE 4th §4.2.4.1).

    With a ``completion_threshold``: ``progress_measure >= threshold`` → completed, below →
    incomplete, no progress measure → unknown. Without a threshold: the SCO's value (default
    unknown).
    """
    threshold = values.get("cmi.completion_threshold")
    if threshold is not None:
        progress = values.get("cmi.progress_measure")
        if progress is None:
            return "unknown"
        return "completed" if float(progress) >= float(threshold) else "incomplete"
    return values.get("cmi.completion_status", "unknown")


def evaluated_success_status(values: Mapping[str, str]) -> str:
    """``cmi.success_status`` as GetValue must report it (RTE 4th §4.2.22.1).

    With a ``scaled_passing_score``: ``score.scaled >= it`` → passed, below → failed, no
    scaled score → unknown. Without one: the SCO's value (default unknown).
    """
    passing = values.get("cmi.scaled_passing_score")
    if passing is not None:
        scaled = values.get("cmi.score.scaled")
        if scaled is None:
            return "unknown"
        return "passed" if float(scaled) >= float(passing) else "failed"
    return values.get("cmi.success_status", "unknown")


_EVALUATED_2004: Final[dict[str, Callable[[Mapping[str, str]], str]]] = {
    "cmi.completion_status": evaluated_completion_status,
    "cmi.success_status": evaluated_success_status,
}
