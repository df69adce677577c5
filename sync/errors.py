"""Errors of the grade-delivery package.

Every error carries a stable ``code`` (short snake_case) that callers and admin pages can branch
on, and a message a human admin can act on. One base class, one subclass per failure kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class SyncError(Exception):
    """Grade delivery failed."""

    code = "sync_error"

    def __init__(self, message: str | None = None, *, params: Mapping[str, str | int] | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.code).strip())
        #: values a message catalogue fills into its sentence for ``code`` (the web layer's words)
        self.params: Mapping[str, str | int] = MappingProxyType(dict(params or {}))

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0])


class NaiveDatetimeError(SyncError):
    """A datetime without a timezone was given; use timezone-aware UTC datetimes."""

    code = "naive_datetime"


class InvalidOutcomeError(SyncError):
    """The learning outcome cannot be turned into an AGS score."""

    code = "invalid_outcome"


class InvalidTransitionError(SyncError):
    """An outbox item was asked to move between two states that are not connected."""

    code = "invalid_transition"


class PlatformNotFoundError(SyncError):
    """No platform registration is known under this key; check `cbsi-connect platforms`."""

    code = "platform_not_found"


class SigningKeyError(SyncError):
    """The tool's signing key is missing or unusable; run `cbsi-connect keys generate`."""

    code = "signing_key_unavailable"


class AgsTransportError(SyncError):
    """The platform could not be reached (timeout or connection error)."""

    code = "ags_transport"

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        #: ``"timeout"`` or ``"connection"``.
        self.kind = kind


class AgsHttpError(SyncError):
    """The platform answered an AGS or token request with an error status."""

    code = "ags_http_error"

    def __init__(
        self, message: str, *, status_code: int, retry_after: str | None = None, phase: str = "ags"
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry_after = retry_after
        #: ``"token"`` when the token endpoint refused, ``"ags"`` for AGS endpoints.
        self.phase = phase


class TokenRequestError(AgsHttpError):
    """The platform's token endpoint refused the client-credentials grant."""

    code = "token_request_failed"

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        retry_after: str | None = None,
        phase: str = "token",
        oauth_error: str | None = None,
        oauth_description: str | None = None,
    ) -> None:
        super().__init__(message, status_code=status_code, retry_after=retry_after, phase=phase)
        #: RFC 6749 §5.2 ``error`` and ``error_description`` of the refusal, when the body had them.
        self.oauth_error = oauth_error
        self.oauth_description = oauth_description


class InvalidAgsResponseError(SyncError):
    """The platform answered with a body that is not the AGS JSON it should be."""

    code = "invalid_ags_response"


class LineItemUnresolvableError(SyncError):
    """The line item has no URL and cannot be found or created (no lineitems URL or scope)."""

    code = "line_item_unresolvable"
