"""Application errors with stable codes, shared by the web layer and the CLI.

An error is a stable ``code`` plus ``params``; its words come from the message catalogue
(:mod:`lti_tool.messages`), rendered in the reader's language by the web layer
(``lti_tool.web.i18n.error_text``) and in English by the CLI (``message``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from lti_tool.messages import ERRORS, english

Params = Mapping[str, str | int]


class AppError(Exception):
    """Base of errors shown to a client: a stable ``code``, ``params``, an HTTP ``status``.

    Attributes:
        code: stable snake_case code (the JSON ``error``; the catalogue key).
        params: values for the catalogue sentence's ``%(name)s`` placeholders.
        message_key: the catalogue entry when it is not ``code`` (a raise site may name a more
            precise sentence of the same error, e.g. one that shows a parameter).
        status: HTTP status.
        detail: English words a raise site still passes (older raise sites); shown to English
            readers instead of the catalogue sentence, never translated.
        message: the English sentence (CLI, logs, tests).
    """

    code = "error"
    status = 400
    message_key: str | None = None
    """The catalogue entry when it is not ``code`` (two errors that share an API code, different words)."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        params: Params | None = None,
        message_key: str | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if message_key is not None:
            self.message_key = message_key
        self.params: Params = MappingProxyType(dict(params or {}))
        self.detail = message
        self.message = message or english(ERRORS, self.catalogue_key(), self.params)
        super().__init__(self.message)

    def catalogue_key(self) -> str:
        """The catalogue entry of this error: its code, else the nearest base class's code."""
        own = self.code if self.code != type(self).code else None
        keys = (self.message_key, own, *(getattr(k, "code", None) for k in type(self).__mro__))
        for code in keys:
            if isinstance(code, str) and code in ERRORS:
                return code
        return AppError.code


class NotFound(AppError):
    """Nothing here."""

    code = "not_found"
    status = 404


class Forbidden(AppError):
    """You are not allowed to do this."""

    code = "forbidden"
    status = 403


class BadRequest(AppError):
    """The request is not valid."""

    code = "bad_request"
    status = 400
