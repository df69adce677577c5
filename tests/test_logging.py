"""Secrets never reach the logs."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from lti_tool.logging_setup import (
    JsonFormatter,
    RedactingFilter,
    TextFormatter,
    install_filters,
    redact,
    request_id_var,
)

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXBhcnQ"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"id_token={JWT}", JWT),
        (f"launch failed for token {JWT} today", JWT),
        ("GET /lti/register?openid_configuration=x&registration_token=abc123def", "abc123def"),
        ('{"access_token": "tok-999", "expires_in": 3600}', "tok-999"),
        ("Authorization: Bearer s3cr3t-bearer", "s3cr3t-bearer"),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY-----", "MIIEvQ"),
        (
            "(sqlite3.IntegrityError) UNIQUE constraint failed\n[SQL: insert into t values (?)]\n"
            "[parameters: ('Ana Learner', 'ana@example.org')]\n(Background on this error at: x)",
            "ana@example.org",
        ),
    ],
)
def test_redact_removes_secrets(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert "redacted" in cleaned


def test_redact_keeps_ordinary_text() -> None:
    assert redact("learner 42 committed 3 values") == "learner 42 committed 3 values"


def test_filter_rewrites_records(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("cbsi.test")
    handler_filter = RedactingFilter()
    caplog.handler.addFilter(handler_filter)
    try:
        log.warning("bad launch %s", f"id_token={JWT}")
    finally:
        caplog.handler.removeFilter(handler_filter)
    assert JWT not in caplog.text
    assert "[redacted" in caplog.text


# -- structured (JSON) lines, request ids ------------------------------------------------------


def _json_lines(emit, formatter: logging.Formatter | None = None) -> list[dict]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter or JsonFormatter())
    install_filters(handler)
    log = logging.getLogger("cbsi.test.json")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        emit(log)
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    if formatter is not None:
        return [{"raw": line} for line in text.splitlines()]
    return [json.loads(line) for line in text.splitlines()]


def test_json_line_shape_keeps_action_fields() -> None:
    token = request_id_var.set("req-1")
    try:
        (line,) = _json_lines(
            lambda log: log.info("launch %s accepted", "L1", extra={"action": "launch_accepted", "platform": 3})
        )
    finally:
        request_id_var.reset(token)
    assert set(line) == {"time", "level", "logger", "message", "request_id", "action", "platform"}
    assert line["time"].endswith("+00:00") and line["time"][:4].isdigit()
    assert line["level"] == "INFO" and line["logger"] == "cbsi.test.json"
    assert line["message"] == "launch L1 accepted" and line["request_id"] == "req-1"
    assert line["action"] == "launch_accepted" and line["platform"] == 3


def test_json_fields_are_redacted_and_lines_stay_single() -> None:
    def emit(log: logging.Logger) -> None:
        log.warning(
            "refused\nsecond line",
            extra={
                "action": "x",
                "error": f"bad id_token {JWT}",
                "detail": "password=hunter2&x=1",
                "access_token": "t0k",
            },
        )
        try:
            raise ValueError(f"token={JWT}")
        except ValueError:
            log.exception("boom")

    stream_lines = _json_lines(emit)
    assert len(stream_lines) == 2  # the message's newline and the traceback stay inside the objects
    first, second = stream_lines
    dumped = json.dumps(stream_lines)
    assert JWT not in dumped and "hunter2" not in dumped and "t0k" not in dumped
    assert first["error"] == "bad id_token [redacted jwt]"
    assert first["detail"].startswith("password=[redacted]")
    assert first["access_token"] == "[redacted]"
    assert first["message"] == "refused\nsecond line"
    assert "ValueError" in second["exception"] and "[redacted" in second["exception"]


def test_text_lines_carry_the_request_id_and_redact_tracebacks() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError(f"secret={JWT}")
        except ValueError:
            log.exception("boom")

    token = request_id_var.set("abc-123")
    try:
        lines = _json_lines(emit, TextFormatter())
    finally:
        request_id_var.reset(token)
    text = "\n".join(x["raw"] for x in lines)
    assert "[abc-123]: boom" in lines[0]["raw"] and JWT not in text


def test_worker_settle_lines_get_the_rows_delivery_id() -> None:
    (line,) = _json_lines(lambda log: log.warning("dead", extra={"outbox_id": 7, "version": 2, "attempts": 1}))
    assert line["request_id"] == "sync-7-v2-a1"


def test_configure_logging_json_writes_json_to_stderr(tmp_path) -> None:
    program = (
        "import logging\n"
        "from lti_tool.logging_setup import configure_logging\n"
        "configure_logging('INFO', 'json')\n"
        "logging.getLogger('cbsi.x').warning('auth failed Authorization: Bearer abc.def', extra={'action': 'a'})\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    (line,) = [json.loads(x) for x in done.stderr.splitlines()]
    assert line["logger"] == "cbsi.x" and line["action"] == "a" and line["request_id"] is None
    assert "abc.def" not in line["message"]


def test_gunicorn_access_lines_become_json_without_query_strings() -> None:
    from lti_tool.logging_setup import GunicornAccessJson

    atoms = {
        "h": "10.0.0.5",
        "m": "GET",
        "U": "/lti/register",
        "q": "registration_token=abc123",
        "s": "400",
        "B": 2513,
        "M": 12,
        "{x-request-id}o": "req-9",
    }
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(m)s %(U)s?%(q)s"', (atoms,), None
    )
    assert GunicornAccessJson().filter(record)
    line = json.loads(record.getMessage())
    assert line["request_id"] == "req-9" and line["path"] == "/lti/register" and line["status"] == 400
    assert line["method"] == "GET" and line["duration_ms"] == 12 and line["logger"] == "gunicorn.access"
    assert "abc123" not in record.getMessage()


def test_gunicorn_master_does_not_load_the_metrics_client() -> None:
    """``serve``'s master sets PROMETHEUS_MULTIPROC_DIR before the workers import prometheus_client."""
    program = (
        "import sys\n"
        "import lti_tool.cli\n"
        "from lti_tool import create_app\n"
        "import lti_tool.services, lti_tool.logging_setup\n"
        "print('prometheus_client' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
