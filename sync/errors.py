"""Errors of the grade-delivery package.

Every error carries a stable ``code`` (short snake_case) that callers and admin pages can branch
on, and a message a human admin can act on. One base class, one subclass per failure kind.
The words live in :mod:`sync.messages`: a raise site names its sentence (``key``) and fills it
with ``params``; ``message`` is the English rendering.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sync.messages import Params, english, plain_params


class SyncError(Exception):
    """Grade delivery failed."""

    code = "sync_error"

    def __init__(self, message: str | None = None, *, key: str | None = None, params: Params | None = None) -> None:
        #: values the catalogue fills into the sentence ``key`` (:mod:`sync.messages`)
        self.params: Mapping[str, str | int] = MappingProxyType(plain_params(params))
        #: the catalogue sentence of this error (``None``: only the literal ``message`` given)
        self.key: str | None = key or (None if message else self.code)
        super().__init__(message or english(self.key or self.code, self.params))

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

    def __init__(
        self, message: str | None = None, *, kind: str, key: str | None = None, params: Params | None = None
    ) -> None:
        super().__init__(message, key=key, params=params)
        #: ``"timeout"`` or ``"connection"``.
        self.kind = kind


class AgsHttpError(SyncError):
    """The platform answered an AGS or token request with an error status."""

    code = "ags_http_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int,
        retry_after: str | None = None,
        phase: str = "ags",
        key: str | None = None,
        params: Params | None = None,
    ) -> None:
        super().__init__(message, key=key, params=params)
        self.status_code = status_code
        self.retry_after = retry_after
        #: ``"token"`` when the token endpoint refused, ``"ags"`` for AGS endpoints.
        self.phase = phase


class TokenRequestError(AgsHttpError):
    """The platform's token endpoint refused the client-credentials grant."""

    code = "token_request_failed"

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int,
        retry_after: str | None = None,
        phase: str = "token",
        oauth_error: str | None = None,
        oauth_description: str | None = None,
        key: str | None = None,
        params: Params | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, retry_after=retry_after, phase=phase, key=key, params=params
        )
        #: RFC 6749 §5.2 ``error`` and ``error_description`` of the refusal, when the body had them.
        self.oauth_error = oauth_error
        self.oauth_description = oauth_description


class InvalidAgsResponseError(SyncError):
    """The platform answered with a body that is not the AGS JSON it should be."""

    code = "invalid_ags_response"


class LineItemUnresolvableError(SyncError):
    """The line item has no URL and cannot be found or created (no lineitems URL or scope)."""

    code = "line_item_unresolvable"
