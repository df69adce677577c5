"""Operator console: an academy's LRS forwarding page (state, backlog, refused statements escaped),
"send again" and "resume" (audited, CSRF-protected), and the state on the academies page."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from lti_tool import audit, operators
from lti_tool.lrs import forwarding
from lti_tool.lrs.forwarder import Forwarder, ForwarderConfig
from lti_tool.lrs.identity import learner_tenant
from lti_tool.lrs.recording import record_statements
from lti_tool.outbound import OutboundClient, OutboundPolicy
from lti_tool.services import Services
from tests.web.test_console import PASSWORD, csrf_of

sys.path.insert(0, str(Path(__file__).parents[1] / "xapi"))
from fake_lrs import FakeLrs

SECRET = "console-Secret-Value-55"


@pytest.fixture
def lrs() -> Iterator[FakeLrs]:
    server = FakeLrs()
    yield server
    server.close()


@pytest.fixture
def ops(client: FlaskClient, services: Services) -> str:
    """A logged-in operator; returns the session's CSRF token."""
    operators.set_operator(services, "ops", PASSWORD)
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return csrf_of(client.get("/admin/").get_data(as_text=True))


def add_statements(services: Services, pid: int, n: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(n)]
    with services.db.session() as s:
        record_statements(
            s, learner_tenant(pid),
            [{"id": i, "actor": {"mbox": "mailto:a@example.org"}, "verb": {"id": "http://example.org/v"},
              "object": {"id": "https://example.org/a"}} for i in ids],
            base_url="http://localhost", now=datetime.now(UTC),
        )  # fmt: skip
    return ids


def run_forwarder(services: Services) -> None:
    policy = OutboundPolicy(deadline_seconds=2.0, allow_private=("127.0.0.0/8",))
    Forwarder(services.db, OutboundClient(policy), config=ForwarderConfig(settle_seconds=0)).run_once()


def test_page_shows_state_and_escaped_refusals_and_sends_them_again(
    client: FlaskClient,
    services: Services,
    platform_id: int,
    ops: str,
    lrs: FakeLrs,
) -> None:
    page = client.get(f"/admin/academies/{platform_id}/forwarding").get_data(as_text=True)
    assert "does not receive a copy" in page
    forwarding.configure(services.db, platform_id, endpoint=lrs.url, key="academy", secret=SECRET, from_start=True)
    ids = add_statements(services, platform_id, 3)
    lrs.mode, lrs.refused = "refuse", {ids[0]}
    run_forwarder(services)
    resp = client.get(f"/admin/academies/{platform_id}/forwarding")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert lrs.url in page and "academy" in page and SECRET not in page
    assert ids[0] in page and "HTTP 400" in page
    assert "<b>statement" not in page and "&lt;b&gt;statement" in page  # the LRS's words, escaped
    academies = client.get("/admin/academies").get_data(as_text=True)
    assert f"/admin/academies/{platform_id}/forwarding" in academies
    # without the CSRF token: refused, nothing queued
    assert client.post(f"/admin/academies/{platform_id}/forwarding/retry-dead").status_code in (400, 403)
    assert forwarding.status(services.db, platform_id).retrying == 0
    lrs.refused = set()
    resp = client.post(f"/admin/academies/{platform_id}/forwarding/retry-dead", data={"csrf_token": ops})
    assert resp.status_code == 302
    assert forwarding.status(services.db, platform_id).retrying == 1
    (entry,) = audit.list_entries(services.db, action="lrs.forward_retry_dead")
    assert entry.actor == "ops" and entry.params == {"count": 1} and entry.platform_id == platform_id
    run_forwarder(services)
    assert ids[0] in lrs.stored and forwarding.status(services.db, platform_id).dead == 0


def test_paused_forwarding_is_resumed_from_the_page(
    client: FlaskClient,
    services: Services,
    platform_id: int,
    ops: str,
    lrs: FakeLrs,
) -> None:
    forwarding.configure(services.db, platform_id, endpoint=lrs.url, key="academy", secret=SECRET, from_start=True)
    add_statements(services, platform_id, 2)
    lrs.mode = "401"
    run_forwarder(services)
    page = client.get(f"/admin/academies/{platform_id}/forwarding").get_data(as_text=True)
    assert "Paused" in page and "Resume forwarding" in page
    assert "paused" in client.get("/admin/academies").get_data(as_text=True)
    resp = client.post(f"/admin/academies/{platform_id}/forwarding/resume", data={"csrf_token": ops})
    assert resp.status_code == 302 and forwarding.status(services.db, platform_id).state == "on"
    assert audit.list_entries(services.db, action="lrs.forward_resume")[0].actor == "ops"


def test_unknown_academy_and_unconfigured_actions(
    client: FlaskClient,
    services: Services,
    platform_id: int,
    ops: str,
) -> None:
    assert client.get("/admin/academies/999/forwarding").status_code == 404
    resp = client.post(f"/admin/academies/{platform_id}/forwarding/retry-dead", data={"csrf_token": ops})
    assert resp.status_code == 409 and "does not forward" in resp.get_data(as_text=True)
    assert audit.list_entries(services.db, action="lrs.forward_retry_dead") == []
