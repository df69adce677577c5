"""Logging configuration: redaction of secrets, a request id on every record, text or JSON lines.

* :class:`RedactingFilter` rewrites a record's message AND every ``extra=`` field with
  :func:`redact` (tokens, JWTs, secret parameters, private keys); formatters redact the
  exception text as well.
* :class:`RequestIdFilter` puts ``record.request_id`` on every record: the id of the web request
  being served (``request_id_var``, set by ``lti_tool.observability``), the grade delivery being
  made (set per outbox row by the worker), or ``None`` outside both.
* ``server.log_format = "json"``: one JSON object per line with ``time`` (UTC ISO 8601),
  ``level``, ``logger``, ``message``, ``request_id`` and the record's ``extra=`` fields
  (``action``, ``platform``, ``outbox_id`` …). ``"text"``: one readable line per record.
"""

from __future__ import annotations

import json
import logging
import re
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_SECRET_PARAM = re.compile(
    r"(?i)\b(registration_token|access_token|id_token|client_assertion|token|password|secret|authorization)"
    r"([\"']?\s*[=:]\s*[\"']?)(Bearer\s+)?[^\s&\"',;]+"
)
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
#: SQLAlchemy puts a failed statement's bound values in its message: learners' names, e-mails, data.
_SQL_PARAMETERS = re.compile(r"\[parameters: [^\n]*\]")
#: ``extra=`` field names whose value is a secret whatever it looks like.
_SECRET_FIELD = re.compile(r"(?i)(token|password|secret|authorization|assertion|private_key|cookie)")

LOG_FORMATS = ("text", "json")

#: The id of the request (or grade delivery) the current thread/task is working for.
request_id_var: ContextVar[str | None] = ContextVar("cbsi_request_id", default=None)

#: Attributes every ``LogRecord`` has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


def redact(text: str) -> str:
    """Replace anything that looks like a token, secret parameter, private key or SQL parameters."""
    text = _PEM.sub("[redacted private key]", text)
    text = _SQL_PARAMETERS.sub("[parameters: redacted]", text)
    text = _JWT.sub("[redacted jwt]", text)
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}[redacted]", text)


def _clean_value(key: str, value: Any) -> Any:
    if _SECRET_FIELD.search(key) and value not in (None, ""):
        return "[redacted]"
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(value if isinstance(value, str) else str(value))


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record's ``extra=`` fields (everything that is not a standard ``LogRecord`` attribute)."""
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS and not k.startswith("_")}


def delivery_request_id(outbox_id: object, version: object, attempts: object) -> str:
    """The request id of one delivery attempt of one grade outbox row (same in every log line of it)."""
    return f"sync-{outbox_id}-v{version}-a{attempts}"


class RedactingFilter(logging.Filter):
    """Rewrite each record's message and ``extra=`` fields with :func:`redact` applied."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        for key, value in extra_fields(record).items():
            new = _clean_value(key, value)
            if new is not value:
                setattr(record, key, new)
        return True


class RequestIdFilter(logging.Filter):
    """Set ``record.request_id``: an explicit ``extra=``, the context's id, or a delivery's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None):
            return True
        rid = request_id_var.get()
        if rid is None and hasattr(record, "outbox_id"):  # settle lines written away from the row's thread
            rid = delivery_request_id(
                record.outbox_id, getattr(record, "version", "?"), getattr(record, "attempts", "?")
            )
        record.request_id = rid
        return True


class TextFormatter(logging.Formatter):
    """``time LEVEL logger [request id]: message`` with the exception text redacted too."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = None
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line; every string value redacted; never a raw newline."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in extra_fields(record).items():
            if key not in out:
                out[key] = _clean_value(key, value)
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exception"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(out, ensure_ascii=False, default=str)


def formatter_for(log_format: str) -> logging.Formatter:
    """The formatter of ``server.log_format``."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


def install_filters(handler: logging.Handler) -> None:
    """Add the request id and redaction filters to ``handler`` (once)."""
    if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
        handler.addFilter(RequestIdFilter())
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


class GunicornAccessJson(logging.Filter):
    """On ``gunicorn.access``: turn gunicorn's access record (its atoms) into one JSON line.

    The path is ``PATH_INFO`` without the query string (registration tokens and the like never
    reach the log); ``request_id`` is the response's ``X-Request-ID``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if not hasattr(atoms, "get"):
            return True

        def atom(key: str) -> Any:
            value = atoms.get(key)  # type: ignore[union-attr]
            return None if value in (None, "-") else value

        status, size, millis = atom("s"), atom("B"), atom("M")
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(f"{atom('m')} {atom('U')} {status}"),
            "request_id": atom("{x-request-id}o"),
            "remote": atom("h"),
            "method": atom("m"),
            "path": redact(str(atom("U") or "")),
            "status": int(status) if str(status).isdigit() else status,
            "bytes": size,
            "duration_ms": millis,
        }
        record.msg, record.args = json.dumps(out, ensure_ascii=False, default=str), None
        return True


def _configure_gunicorn(log_format: str) -> None:
    """Inside a gunicorn worker: JSON access and error lines too when ``log_format`` is json."""
    access = logging.getLogger("gunicorn.access")
    for f in [f for f in access.filters if isinstance(f, GunicornAccessJson)]:
        access.removeFilter(f)
    if log_format == "json":
        access.addFilter(GunicornAccessJson())
    for handler in logging.getLogger("gunicorn.error").handlers:
        install_filters(handler)
        if log_format == "json":
            handler.setFormatter(JsonFormatter())


def configure_logging(level: str, log_format: str = "text") -> None:
    """Set the root level; install our handler (if none) with the format; filters on every root handler.

    A handler this function installed gets the requested formatter on every call; handlers
    someone else installed (an embedding program, pytest) keep their formatter and get the filters.
    """
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler._cbsi = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    for handler in root.handlers:
        if getattr(handler, "_cbsi", False):
            handler.setFormatter(formatter_for(log_format))
        install_filters(handler)
    _configure_gunicorn(log_format)
