"""The served access line: ``AccessLogger`` writes what gunicorn's own logger writes, at less cost."""

from __future__ import annotations

import datetime
import json
import logging
from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from lti_tool.access_log import ACCESS_LOG_FORMAT, AccessLogger
from lti_tool.logging_setup import GunicornAccessJson


def _request(path: str = "/runtime/a1/i1/commit", request_id: str | None = "rid-42") -> tuple[Any, Any, dict[str, Any]]:
    headers = [("Content-Type", "application/json"), ("Content-Length", "27")]
    if request_id is not None:
        headers.append(("X-Request-ID", request_id))
    resp = SimpleNamespace(status="200 OK", sent=27, headers=headers)
    req = SimpleNamespace(headers=[("HOST", "tool.example"), ("AUTHORIZATION", "Bearer secret")])
    environ = {
        "REMOTE_ADDR": "10.0.0.7",
        "REQUEST_METHOD": "POST",
        "RAW_URI": path + "?lt=secret",
        "PATH_INFO": path,
        "QUERY_STRING": "lt=secret",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_USER_AGENT": 'agent "quoted"',
    }
    return resp, req, environ


def _line(logger_class: type[Logger], access_format: str, *, json_rewrite: bool = False, **request: Any) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", access_format)
    logger = logger_class(cfg)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger.access_log.handlers = [Keep()]
    logger.access_log.filters = [GunicornAccessJson()] if json_rewrite else []
    logger.access(*_request(**request), datetime.timedelta(seconds=1, microseconds=234_567))
    (record,) = records
    return record.getMessage()


@pytest.mark.parametrize("request_id", ["rid-42", None])
def test_the_line_is_gunicorns(request_id: str | None) -> None:
    ours = _line(AccessLogger, ACCESS_LOG_FORMAT, request_id=request_id)
    assert ours == _line(Logger, ACCESS_LOG_FORMAT, request_id=request_id)
    assert ours == f'10.0.0.7 "POST /runtime/a1/i1/commit HTTP/1.1" 200 27 1234ms {request_id or "-"}'
    assert "secret" not in ours


def test_another_format_gets_every_atom() -> None:
    other = "%(h)s %(r)s %({user-agent}i)s %({content-type}o)s %(a)s"
    assert _line(AccessLogger, other) == _line(Logger, other)
    assert 'agent \\"quoted\\"' in _line(AccessLogger, other)


def test_the_json_rewrite_reads_the_same_fields() -> None:
    ours, theirs = (json.loads(_line(c, ACCESS_LOG_FORMAT, json_rewrite=True)) for c in (AccessLogger, Logger))
    ours.pop("time")
    theirs.pop("time")
    assert ours == theirs
    assert ours["request_id"] == "rid-42" and ours["bytes"] == 27 and ours["duration_ms"] == 1234
    assert ours["path"] == "/runtime/a1/i1/commit"
