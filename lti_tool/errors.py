"""Application errors with stable codes, shared by the web layer and the CLI."""

from __future__ import annotations


class AppError(Exception):
    """Base of errors shown to a client: a stable ``code``, an HTTP ``status`` and a message.

    The class docstring's first line is the default message.
    """

    code = "error"
    status = 400

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None) -> None:
        doc = (type(self).__doc__ or "").strip().splitlines()
        self.message = message or (doc[0] if doc else self.code)
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        super().__init__(self.message)


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
