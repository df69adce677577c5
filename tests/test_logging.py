"""Secrets never reach the logs."""

from __future__ import annotations

import logging

import pytest

from lti_tool.logging_setup import RedactingFilter, redact

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
