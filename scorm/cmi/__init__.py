"""Server-side SCORM 1.2 / 2004 data model: the authority on every CMI value.

Pure, stdlib-only. Public API:

* tables: :func:`export_tables`, :func:`table_for`, ``ElementSpec``, ``ArraySpec``, ``Access``
* model: :func:`get_value`, :func:`set_value`, :func:`apply_commit` → :class:`CommitResult`,
  :func:`empty_state`
* lifecycle: :func:`initial_state_12` / :func:`initial_state_2004` over :class:`Scorm12Launch` /
  :class:`Scorm2004Launch` (:func:`initial_state` from keywords), :func:`finish_session`,
  :func:`attempt_continues`
* outcome: :class:`Outcome`, :func:`outcome_from_state`, :func:`rollup_outcomes`
* errors: :class:`ErrorKind`, :func:`error_code`, :class:`CmiError` and subclasses
* time: ``scorm.cmi.durations``
* runtime API reference (Initialize ... GetDiagnostic as pure transitions): ``scorm.cmi.api``

State document (JSON; one per SCO attempt)::

    {"version": "1.2" | "2004",
     "values": {"<concrete element>": "<string>", ...},   # only what was set
     "counts": {"<concrete array path>": <int>, ...}}     # _count of each array

e.g. ``{"version": "2004", "values": {"cmi.learner_id": "u1", "cmi.interactions.0.id": "q1"},
"counts": {"cmi.interactions": 1}}``. Defaults come from the tables; keywords are derived.
"""

from __future__ import annotations

from scorm.cmi.durations import DurationError, add_spans, format_span, parse_span
from scorm.cmi.errors import (
    CmiError,
    ErrorKind,
    InvalidArgumentError,
    InvalidStateError,
    UnknownVersionError,
    Version,
    error_code,
    error_message,
    normalise_version,
)
from scorm.cmi.lifecycle import (
    LaunchParameters,
    LmsComment,
    Scorm12Launch,
    Scorm2004Launch,
    attempt_continues,
    finish_session,
    initial_state,
    initial_state_12,
    initial_state_2004,
    launch_parameters,
    session_exit,
)
from scorm.cmi.model import (
    SHARED_DATA_ACCESS,
    CommitResult,
    Rejection,
    apply_commit,
    empty_state,
    get_value,
    get_value_kind,
    set_value,
)
from scorm.cmi.outcome import Completion, Outcome, Success, outcome_from_state, rollup_outcomes
from scorm.cmi.tables import Access, ArraySpec, ElementSpec, export_tables, table_for

__all__ = [
    "SHARED_DATA_ACCESS",
    "Access",
    "ArraySpec",
    "CmiError",
    "CommitResult",
    "Completion",
    "DurationError",
    "ElementSpec",
    "ErrorKind",
    "InvalidArgumentError",
    "InvalidStateError",
    "LaunchParameters",
    "LmsComment",
    "Outcome",
    "Rejection",
    "Scorm12Launch",
    "Scorm2004Launch",
    "Success",
    "UnknownVersionError",
    "Version",
    "add_spans",
    "apply_commit",
    "attempt_continues",
    "empty_state",
    "error_code",
    "error_message",
    "export_tables",
    "finish_session",
    "format_span",
    "get_value",
    "get_value_kind",
    "initial_state",
    "initial_state_12",
    "initial_state_2004",
    "launch_parameters",
    "normalise_version",
    "outcome_from_state",
    "parse_span",
    "rollup_outcomes",
    "session_exit",
    "set_value",
    "table_for",
]
