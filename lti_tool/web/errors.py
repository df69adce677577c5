"""Error responses: JSON with a stable code for API routes, a friendly page for browsers.

The words come from the message catalogue in the reader's language (``lti_tool.web.i18n``):
the JSON ``error`` code and the HTTP status stay the same in every language.

No stack trace ever reaches a client; unexpected errors are logged with an incident id the
page shows, so an admin can find the log line.

A database that is down, restarting or unreachable answers 503 ``database_unavailable`` with
``Retry-After`` (the player's commit queue retries 5xx; browsers get the friendly page): the
connection-level errors of SQLAlchemy (``OperationalError``, ``InterfaceError``,
``DisconnectionError``, a pool ``TimeoutError``, any error that invalidated its connection).
Integrity and programming errors are not among them: they stay 500s with an incident id.
"""

from __future__ import annotations

import logging
import uuid

from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from lti_tool.errors import AppError
from lti_tool.storage import StorageError
from lti_tool.web.i18n import error_text, localised

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
API_PREFIXES = ("/api/", "/runtime/", "/xapi/", "/health", "/ready", "/metrics", "/.well-known/", "/content/")


def wants_json() -> bool:
    """API routes and clients that prefer JSON get JSON errors."""
    if request.path.startswith(API_PREFIXES) or request.path.endswith(".json"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def error_response(status: int, code: str, message: str, *, incident: str | None = None) -> Response:
    """Render one error in the form the client expects."""
    if wants_json():
        body: dict[str, str] = {"error": code, "message": message}
        if incident:
            body["incident"] = incident
        response = jsonify(body)
    else:
        response = Response(
            render_template("error.html", status=status, code=code, message=message, incident=incident),
            mimetype="text/html",
        )
    response.status_code = status
    return response


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


def database_unavailable(exc: BaseException, code: str = "database_unavailable") -> Response:
    """503 with ``Retry-After`` for a database that does not answer (logged with an incident id)."""
    incident = uuid.uuid4().hex[:12]
    # the driver's own words (never the statement or its parameters: they may be personal data)
    reason = exc if isinstance(exc, StorageError) else f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or ''}"
    logger.error("database unavailable (incident %s): %s", incident, reason, extra={"action": "database_down"})
    message = localised("database_unavailable", "the service's database is unavailable; try again shortly")
    response = error_response(503, code, message, incident=incident)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> Response:
        return error_response(exc.status, exc.code, error_text(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, "http_error")
        detail = exc.description or exc.name
        if status == 413:
            detail = "the request body is larger than this service accepts"
        return error_response(status, code, localised(code, detail))

    @app.errorhandler(StorageError)
    def _storage_error(exc: StorageError) -> Response:
        return database_unavailable(exc, exc.code)

    for kind in DATABASE_DOWN:
        app.register_error_handler(kind, database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return database_unavailable(exc)
        incident = uuid.uuid4().hex[:12]
        logger.exception("unexpected error (incident %s)", incident, extra={"action": "unexpected_error"})
        detail = "something went wrong on our side; the operator can find it in the logs by its incident id"
        return error_response(500, "internal_error", localised("internal_error", detail), incident=incident)
