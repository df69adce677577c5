"""SCORM runtime error kinds, resolved to numeric codes per version.

The data model reasons in *symbolic* kinds (``ErrorKind``); the number a SCO sees depends on the
version: SCORM 1.2 RTE §3.3.3 (error codes 0-405) vs SCORM 2004 4th ed. RTE §3.1.7 (0-408).
Kinds that have no counterpart in 1.2 are mapped to the closest 1.2 code, with the reason beside
the entry.

Python-level misuse of this package (unknown version, malformed state document, bad rollup
weights) raises ``CmiError`` subclasses instead: those are programming/configuration errors, not
SCORM runtime errors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from types import MappingProxyType
from typing import Final, Literal

logger = logging.getLogger(__name__)

Version = Literal["1.2", "2004"]
"""The two data models. SCORM 2004 2nd, 3rd and 4th editions share one table (see tables.py)."""


class ErrorKind(Enum):
    """Symbolic SCORM runtime error kinds (resolve with :func:`error_code`)."""

    NO_ERROR = "no_error"
    GENERAL_EXCEPTION = "general_exception"
    # API-instance lifecycle (used by a runtime adapter, not by the pure data model).
    INITIALIZATION_FAILED = "initialization_failed"
    ALREADY_INITIALIZED = "already_initialized"
    CONTENT_TERMINATED = "content_terminated"
    TERMINATION_FAILED = "termination_failed"
    TERMINATION_BEFORE_INIT = "termination_before_init"
    TERMINATION_AFTER_TERMINATION = "termination_after_termination"
    RETRIEVE_BEFORE_INIT = "retrieve_before_init"
    RETRIEVE_AFTER_TERMINATION = "retrieve_after_termination"
    STORE_BEFORE_INIT = "store_before_init"
    STORE_AFTER_TERMINATION = "store_after_termination"
    COMMIT_BEFORE_INIT = "commit_before_init"
    COMMIT_AFTER_TERMINATION = "commit_after_termination"
    COMMIT_FAILED = "commit_failed"
    # Data model.
    GENERAL_ARGUMENT = "general_argument"
    GENERAL_GET_FAILURE = "general_get_failure"
    GENERAL_SET_FAILURE = "general_set_failure"
    NO_CHILDREN = "no_children"
    NOT_AN_ARRAY = "not_an_array"
    UNDEFINED_ELEMENT = "undefined_element"
    UNIMPLEMENTED_ELEMENT = "unimplemented_element"
    VALUE_NOT_INITIALIZED = "value_not_initialized"
    KEYWORD_READ_ONLY = "keyword_read_only"
    READ_ONLY = "read_only"
    WRITE_ONLY = "write_only"
    TYPE_MISMATCH = "type_mismatch"
    VALUE_OUT_OF_RANGE = "value_out_of_range"
    DEPENDENCY_NOT_ESTABLISHED = "dependency_not_established"


_K = ErrorKind

# SCORM 1.2 RTE §3.3.3 (LMSGetLastError codes).
CODES_12: Final = MappingProxyType(
    {
        _K.NO_ERROR: 0,
        _K.GENERAL_EXCEPTION: 101,
        _K.INITIALIZATION_FAILED: 101,
        _K.ALREADY_INITIALIZED: 101,
        _K.CONTENT_TERMINATED: 101,
        _K.TERMINATION_FAILED: 101,
        _K.TERMINATION_BEFORE_INIT: 301,  # 301 "Not initialized"
        _K.TERMINATION_AFTER_TERMINATION: 101,
        _K.RETRIEVE_BEFORE_INIT: 301,
        _K.RETRIEVE_AFTER_TERMINATION: 101,
        _K.STORE_BEFORE_INIT: 301,
        _K.STORE_AFTER_TERMINATION: 101,
        _K.COMMIT_BEFORE_INIT: 301,
        _K.COMMIT_AFTER_TERMINATION: 101,
        _K.COMMIT_FAILED: 101,
        _K.GENERAL_ARGUMENT: 201,
        # 1.2 has no get/set failure codes: an index beyond _count or a malformed element name
        # is an "invalid argument" (201).
        _K.GENERAL_GET_FAILURE: 201,
        _K.GENERAL_SET_FAILURE: 201,
        _K.NO_CHILDREN: 202,
        _K.NOT_AN_ARRAY: 203,
        # RTE 1.2 §3.3.3: 201 = "argument represents an invalid data model element";
        # 401 = valid element this LMS did not implement (we implement every element).
        _K.UNDEFINED_ELEMENT: 201,
        _K.UNIMPLEMENTED_ELEMENT: 401,
        # 1.2 returns "" with 0 for an element without a value; this kind is never produced
        # for 1.2 by the data model. 301 is the nearest code, should a caller need one.
        _K.VALUE_NOT_INITIALIZED: 301,
        _K.KEYWORD_READ_ONLY: 402,
        _K.READ_ONLY: 403,
        _K.WRITE_ONLY: 404,
        _K.TYPE_MISMATCH: 405,
        # 1.2 has no out-of-range code: a value outside the element's range is of the wrong
        # data type for it (405), as the range is part of the 1.2 type definition (CMISInteger...).
        _K.VALUE_OUT_OF_RANGE: 405,
        # 1.2 defines no ordering dependency between elements; never produced for 1.2.
        _K.DEPENDENCY_NOT_ESTABLISHED: 101,
    }
)

# SCORM 2004 4th ed. RTE §3.1.7.6 (Table 3.1.7a).
CODES_2004: Final = MappingProxyType(
    {
        _K.NO_ERROR: 0,
        _K.GENERAL_EXCEPTION: 101,
        _K.INITIALIZATION_FAILED: 102,
        _K.ALREADY_INITIALIZED: 103,
        _K.CONTENT_TERMINATED: 104,
        _K.TERMINATION_FAILED: 111,
        _K.TERMINATION_BEFORE_INIT: 112,
        _K.TERMINATION_AFTER_TERMINATION: 113,
        _K.RETRIEVE_BEFORE_INIT: 122,
        _K.RETRIEVE_AFTER_TERMINATION: 123,
        _K.STORE_BEFORE_INIT: 132,
        _K.STORE_AFTER_TERMINATION: 133,
        _K.COMMIT_BEFORE_INIT: 142,
        _K.COMMIT_AFTER_TERMINATION: 143,
        _K.COMMIT_FAILED: 391,
        _K.GENERAL_ARGUMENT: 201,
        _K.GENERAL_GET_FAILURE: 301,
        _K.GENERAL_SET_FAILURE: 351,
        # RTE 4th §3.1.7.6: "_children"/"_count" on an element without them is a get failure.
        _K.NO_CHILDREN: 301,
        _K.NOT_AN_ARRAY: 301,
        _K.UNDEFINED_ELEMENT: 401,
        _K.UNIMPLEMENTED_ELEMENT: 402,
        _K.VALUE_NOT_INITIALIZED: 403,
        # Keywords (_version, _children, _count) are read-only elements in 2004.
        _K.KEYWORD_READ_ONLY: 404,
        _K.READ_ONLY: 404,
        _K.WRITE_ONLY: 405,
        _K.TYPE_MISMATCH: 406,
        _K.VALUE_OUT_OF_RANGE: 407,
        _K.DEPENDENCY_NOT_ESTABLISHED: 408,
    }
)

# Short descriptions (what LMSGetErrorString / GetErrorString return), per code.
MESSAGES_12: Final = MappingProxyType(
    {
        0: "No error",
        101: "General exception",
        201: "Invalid argument error",
        202: "Element cannot have children",
        203: "Element not an array - cannot have count",
        301: "Not initialized",
        401: "Not implemented error",
        402: "Invalid set value, element is a keyword",
        403: "Element is read only",
        404: "Element is write only",
        405: "Incorrect data type",
    }
)

MESSAGES_2004: Final = MappingProxyType(
    {
        0: "No error",
        101: "General exception",
        102: "General initialization failure",
        103: "Already initialized",
        104: "Content instance terminated",
        111: "General termination failure",
        112: "Termination before initialization",
        113: "Termination after termination",
        122: "Retrieve data before initialization",
        123: "Retrieve data after termination",
        132: "Store data before initialization",
        133: "Store data after termination",
        142: "Commit before initialization",
        143: "Commit after termination",
        201: "General argument error",
        301: "General get failure",
        351: "General set failure",
        391: "General commit failure",
        401: "Undefined data model element",
        402: "Unimplemented data model element",
        403: "Data model element value not initialized",
        404: "Data model element is read only",
        405: "Data model element is write only",
        406: "Data model element type mismatch",
        407: "Data model element value out of range",
        408: "Data model dependency not established",
    }
)


class CmiError(Exception):
    """Base error of ``scorm.cmi`` (misuse of the Python API, not a SCORM runtime error)."""

    code: str = "cmi_error"

    def __init__(self, message: str | None = None, *, params: Mapping[str, str | int] | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.code).strip())
        #: values a message catalogue fills into its sentence for ``code`` (the web layer's words)
        self.params: Mapping[str, str | int] = MappingProxyType(dict(params or {}))


class UnknownVersionError(CmiError):
    """Unknown SCORM version: use "1.2" or "2004"."""

    code = "unknown_version"


class InvalidStateError(CmiError):
    """The state document is malformed (expected {"version", "values", "counts"})."""

    code = "invalid_state"


class InvalidArgumentError(CmiError):
    """An argument to a scorm.cmi function is invalid."""

    code = "invalid_argument"


def normalise_version(version: str) -> Version:
    """Map a version label to ``"1.2"`` or ``"2004"``.

    Accepts ``"1.2"``, ``"2004"`` and edition-qualified labels starting with ``"2004"``
    (``"2004_3rd"``, ``"2004 4th Edition"``), all sharing the one 2004 table.

    Raises:
        UnknownVersionError: for anything else.
    """
    if version == "1.2" or version == "2004":
        return version
    if isinstance(version, str) and version.startswith("2004"):
        return "2004"
    raise UnknownVersionError(f"Unknown SCORM version {version!r}: use '1.2' or '2004'.")


def error_code(kind: ErrorKind, version: str) -> int:
    """Numeric error code of ``kind`` for ``version``.

    Args:
        kind: the symbolic kind.
        version: "1.2" or "2004".

    Returns:
        The code a SCO would read from GetLastError.
    """
    table = CODES_12 if normalise_version(version) == "1.2" else CODES_2004
    return table[kind]


def error_message(code: int, version: str) -> str:
    """Short description of a numeric code for ``version``; unknown codes read as 101."""
    table = MESSAGES_12 if normalise_version(version) == "1.2" else MESSAGES_2004
    return table.get(code, table[101])
