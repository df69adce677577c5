"""A pure reference of the SCORM runtime API instance (the 8 functions a SCO calls).

The browser runs the real API (it must answer synchronously); this module states the same
behaviour server-side, as pure transitions on a frozen :class:`ApiSession`, so that:

* the lifecycle error codes (1.2: 301/101; 2004: 102-143, 391) come from one place and are
  tested;
* a recorded sequence of calls (e.g. from a browser log) can be replayed and compared.

SCORM 1.2 RTE §3.3 (LMSInitialize, LMSFinish, LMSGetValue, LMSSetValue, LMSCommit,
LMSGetLastError, LMSGetErrorString, LMSGetDiagnostic) and SCORM 2004 4th ed. RTE §3.1
(Initialize, Terminate, GetValue, SetValue, Commit, GetLastError, GetErrorString,
GetDiagnostic; state model §3.1.6). Every call function returns ``(new_session,
return_value)`` with the return value as the SCO would see it ("true"/"false" or the value).
Use it qualified (``from scorm.cmi import api; api.set_value(session, ...)``): the names mirror
the SCORM 2004 API and are not re-exported by ``scorm.cmi``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from scorm.cmi import model as _model
from scorm.cmi.errors import (
    MESSAGES_2004,
    ErrorKind,
    Version,
    error_code,
    error_message,
    normalise_version,
)
from scorm.cmi.state import _unpack

logger = logging.getLogger(__name__)

K = ErrorKind
TRUE = "true"
FALSE = "false"


class Phase(StrEnum):
    """API instance states (2004 RTE 4th §3.1.6)."""

    NOT_INITIALIZED = "not_initialized"
    RUNNING = "running"
    TERMINATED = "terminated"


@dataclass(frozen=True, kw_only=True)
class ApiSession:
    """One API instance: phase, CMI state document and last error."""

    version: Version
    state: dict[str, Any] = field(compare=False)
    phase: Phase = Phase.NOT_INITIALIZED
    last_error: int = 0
    dirty: bool = False


def open_session(state: dict[str, Any], version: str) -> ApiSession:
    """A not-yet-initialised API instance over a state document (e.g. from initial_state)."""
    v = normalise_version(version)
    _unpack(state, v)
    return ApiSession(version=v, state=state)


def _fail(session: ApiSession, kind: ErrorKind, result: str = FALSE) -> tuple[ApiSession, str]:
    return replace(session, last_error=error_code(kind, session.version)), result


def _ok(session: ApiSession, result: str = TRUE, **changes: Any) -> tuple[ApiSession, str]:
    return replace(session, last_error=0, **changes), result


def _phase_error(session: ApiSession, before: ErrorKind, after: ErrorKind) -> ErrorKind | None:
    if session.phase is Phase.NOT_INITIALIZED:
        return before
    if session.phase is Phase.TERMINATED:
        return after
    return None


def initialize(session: ApiSession, parameter: str = "") -> tuple[ApiSession, str]:
    """Initialize("") / LMSInitialize("")."""
    if parameter != "":
        return _fail(session, K.GENERAL_ARGUMENT)
    if session.phase is Phase.RUNNING:
        return _fail(session, K.ALREADY_INITIALIZED)
    if session.phase is Phase.TERMINATED:
        return _fail(session, K.CONTENT_TERMINATED)
    return _ok(session, phase=Phase.RUNNING)


def terminate(session: ApiSession, parameter: str = "") -> tuple[ApiSession, str]:
    """Terminate("") / LMSFinish(""): commits implicitly, then ends the session.

    The caller persists ``session.state`` and applies
    :func:`scorm.cmi.lifecycle.finish_session`.
    """
    if parameter != "":
        return _fail(session, K.GENERAL_ARGUMENT)
    kind = _phase_error(session, K.TERMINATION_BEFORE_INIT, K.TERMINATION_AFTER_TERMINATION)
    if kind is not None:
        return _fail(session, kind)
    return _ok(session, phase=Phase.TERMINATED, dirty=False)


def get_value(session: ApiSession, element: str) -> tuple[ApiSession, str]:
    """GetValue(element) / LMSGetValue(element)."""
    kind = _phase_error(session, K.RETRIEVE_BEFORE_INIT, K.RETRIEVE_AFTER_TERMINATION)
    if kind is not None:
        return _fail(session, kind, "")
    value, kind = _model.get_value_kind(session.state, element, session.version)
    if kind is not K.NO_ERROR:
        return _fail(session, kind, "")
    return _ok(session, value)


def set_value(session: ApiSession, element: str, value: str) -> tuple[ApiSession, str]:
    """SetValue(element, value) / LMSSetValue(element, value)."""
    kind = _phase_error(session, K.STORE_BEFORE_INIT, K.STORE_AFTER_TERMINATION)
    if kind is not None:
        return _fail(session, kind)
    new_state, code = _model.set_value(session.state, element, value, session.version)
    if code != 0:
        return replace(session, last_error=code), FALSE
    return _ok(session, state=new_state, dirty=True)


def commit(session: ApiSession, parameter: str = "") -> tuple[ApiSession, str]:
    """Commit("") / LMSCommit(""): the caller persists ``session.state`` when it was dirty."""
    if parameter != "":
        return _fail(session, K.GENERAL_ARGUMENT)
    kind = _phase_error(session, K.COMMIT_BEFORE_INIT, K.COMMIT_AFTER_TERMINATION)
    if kind is not None:
        return _fail(session, kind)
    return _ok(session, dirty=False)


def get_last_error(session: ApiSession) -> str:
    """GetLastError() / LMSGetLastError(): the last error code as a string."""
    return str(session.last_error)


def get_error_string(session: ApiSession, code: str) -> str:
    """GetErrorString(code) / LMSGetErrorString(code).

    "" for a code that is not one of the version's error codes (2004 RTE 4th §3.1.7.6: "If the
    requested error code is unknown by the LMS, an empty characterstring shall be returned";
    ADL CTS API case: ``GetErrorString("001")`` and ``("1444")`` answer "").
    """
    if session.version == "1.2":  # SCORM 1.2 leaves it open: unknown codes read as 101
        try:
            return error_message(int(code), session.version)
        except ValueError:
            return ""
    text = code.strip()
    if not text.isdigit() or (text != "0" and text.startswith("0")) or int(text) not in MESSAGES_2004:
        return ""
    return error_message(int(text), session.version)


def get_diagnostic(session: ApiSession, code: str = "") -> str:
    """GetDiagnostic(code): the message of ``code``, or of the last error when ``code`` is ""."""
    return get_error_string(session, code or str(session.last_error))
