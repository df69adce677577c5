"""Errors of the sequencing package (programming/data errors, not SN navigation refusals).

A refused navigation request is *not* an exception: :func:`scorm.sequencing.navigate` returns a
:class:`~scorm.sequencing.engine.NavResult` carrying the SN exception code. These exceptions are
for callers that pass something the engine cannot work with at all. Their words live in
:mod:`scorm.messages` (``key`` + ``params``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from scorm.messages import Params, english, plain_params


class SequencingError(Exception):
    """The sequencing engine could not process the call."""

    code = "sequencing_error"

    def __init__(self, message: str | None = None, *, key: str | None = None, params: Params | None = None) -> None:
        #: values the catalogue fills into the sentence ``key`` (:mod:`scorm.messages`)
        self.params: Mapping[str, str | int] = MappingProxyType(plain_params(params))
        #: the catalogue sentence of this error (``None``: only the literal ``message`` given)
        self.key: str | None = key or (None if message else self.code)
        self.message = message or english(self.key or self.code, self.params)
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
