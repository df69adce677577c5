"""Errors of the sequencing package (programming/data errors, not SN navigation refusals).

A refused navigation request is *not* an exception: :func:`scorm.sequencing.navigate` returns a
:class:`~scorm.sequencing.engine.NavResult` carrying the SN exception code. These exceptions are
for callers that pass something the engine cannot work with at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class SequencingError(Exception):
    """The sequencing engine could not process the call."""

    code = "sequencing_error"

    def __init__(self, message: str | None = None, *, params: Mapping[str, str | int] | None = None) -> None:
        self.message = message or (self.__doc__ or self.code).strip()
        #: values a message catalogue fills into its sentence for ``code`` (the web layer's words)
        self.params: Mapping[str, str | int] = MappingProxyType(dict(params or {}))
        super().__init__(self.message)


class UnknownActivity(SequencingError):
    """The activity id is not part of this activity tree."""

    code = "unknown_activity"


class NotALeaf(SequencingError):
    """Only leaf activities (SCOs/assets) report tracking data."""

    code = "not_a_leaf"


class InvalidTrackingValue(SequencingError):
    """A tracking value reported for a SCO is outside its vocabulary or range."""

    code = "invalid_tracking_value"


class InvalidState(SequencingError):
    """The stored activity state document does not belong to this tree or is malformed."""

    code = "invalid_state"


class InvalidNavigationRequest(SequencingError):
    """The navigation request string is not an ``adl.nav.request`` value."""

    code = "invalid_navigation_request"


class InvalidPrerequisites(SequencingError):
    """A SCORM 1.2 ``adlcp:prerequisites`` expression cannot be parsed."""

    code = "invalid_prerequisites"


ALL_ERROR_TYPES: tuple[type[SequencingError], ...] = (
    UnknownActivity,
    NotALeaf,
    InvalidTrackingValue,
    InvalidState,
    InvalidNavigationRequest,
    InvalidPrerequisites,
)
