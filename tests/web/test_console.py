"""Operator console: academies, keys, grade delivery, audit log, regional report, course use.

Each action is checked for its effect in the database, its audit entry (who, what, from where),
its refusal of bad input with a precise message and status, and CSRF; every page escapes text
that an LMS, a package or a learner supplied.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from lti_tool import audit, operators
from lti_tool.services import Services
from lti_tool.storage.models import Deployment, Platform
from lti_tool.storage.outbox import SqlOutboxStore
from sync.model import ActivityProgress, GradingProgress, LineItemRef, OutboxStatus, ScoreUpdate
from tests.test_regional import FAILED, PASSED, add_course, enrol

PASSWORD = "correct horse battery"
SCRIPT = '<script>alert("pwn")</script>'


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:400]
    return match.group(1)


@pytest.fixture
def ops(client: FlaskClient, services: Services) -> str:
    """A logged-in operator; returns the session's CSRF token."""
    operators.set_operator(services, "ops", PASSWORD)
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    response = client.post("/admin/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    return csrf_of(client.get("/admin/").get_data(as_text=True))


def add_pending(services: Services, name: str = "Moodle at the Academy") -> int:
    with services.db.session() as s:
        p = Platform(
            issuer="https://moodle.academy.example",
            client_id="dyn-client",
            name=name,
            auth_login_url="https://moodle.academy.example/mod/lti/auth.php",
            auth_token_url="https://moodle.academy.example/mod/lti/token.php",
            key_set_url="https://moodle.academy.example/mod/lti/certs.php",
            status="pending",
            source="dynamic",
            details={
                "registration": {
                    "product_family_code": "moodle",
                    "version": "4.5",
                    "scopes_granted": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                    "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
                }
            },
        )
        p.deployments.append(Deployment(deployment_id="7"))
        s.add(p)
        s.flush()
        return p.id


def entries(services: Services, action: str) -> list[audit.Entry]:
    return audit.list_entries(services.db, action=action)


def status_of(services: Services, platform_id: int) -> str | None:
    with services.db.session() as s:
        p = s.get(Platform, platform_id)
        return None if p is None else p.status


def test_console_pages_need_an_operator(client: FlaskClient, platform_id: int) -> None:
    for path in ("/admin/academies", "/admin/keys", "/admin/delivery", "/admin/audit", "/admin/report"):
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"], path
    assert client.post(f"/admin/academies/{platform_id}/status", data={"action": "disable"}).status_code == 401


def test_pending_registration_shows_what_the_lms_sent_and_is_approved(
    client: FlaskClient, services: Services, ops: str
) -> None:
    pid = add_pending(services)
    page = client.get("/admin/academies").get_data(as_text=True)
    assert "Waiting for approval" in page and "moodle 4.5" in page and "LtiDeepLinkingRequest" in page
    response = client.post(f"/admin/academies/{pid}/status", data={"action": "approve", "csrf_token": ops})
    assert response.status_code == 302
    assert status_of(services, pid) == "active"
    [entry] = entries(services, "platforms.approve")
    assert (entry.actor, entry.source, entry.platform_id) == ("ops", "127.0.0.1", pid)
    assert entry.params == {"from": "pending", "to": "active"}
    assert "is now active" in client.get("/admin/academies").get_data(as_text=True)


def test_refuse_forgets_a_pending_registration_but_never_one_in_use(
    client: FlaskClient, services: Services, ops: str, platform_id: int
) -> None:
    pid = add_pending(services)
    assert (
        client.post(f"/admin/academies/{pid}/status", data={"action": "refuse", "csrf_token": ops}).status_code == 302
    )
    assert status_of(services, pid) is None
    [entry] = entries(services, "platforms.refuse")
    assert entry.params["issuer"] == "https://moodle.academy.example"
    response = client.post(f"/admin/academies/{platform_id}/status", data={"action": "refuse", "csrf_token": ops})
    assert response.status_code == 409
    assert "cannot be refused: disable it instead" in response.get_data(as_text=True)
    assert status_of(services, platform_id) == "active"
    missing = client.post(f"/admin/academies/{pid}/status", data={"action": "approve", "csrf_token": ops})
    assert missing.status_code == 404 and "no registration" in missing.get_data(as_text=True).lower()


def test_disable_enable_rename_and_add_deployment(
    client: FlaskClient, services: Services, ops: str, platform_id: int
) -> None:
    url = f"/admin/academies/{platform_id}"
    assert client.post(f"{url}/status", data={"action": "disable", "csrf_token": ops}).status_code == 302
    assert status_of(services, platform_id) == "disabled"
    assert client.post(f"{url}/status", data={"action": "enable", "csrf_token": ops}).status_code == 302
    assert status_of(services, platform_id) == "active"
    assert client.post(f"{url}/rename", data={"name": "Barbados Police College", "csrf_token": ops}).status_code == 302
    assert client.post(f"{url}/deployments", data={"deployment_id": "dep-2", "csrf_token": ops}).status_code == 302
    with services.db.session() as s:
        p = s.get(Platform, platform_id)
        assert p.name == "Barbados Police College"
        assert sorted(d.deployment_id for d in p.deployments) == ["dep-1", "dep-2"]
    actions = [e.action for e in audit.list_entries(services.db, action="platforms.")]
    assert actions == ["platforms.add_deployment", "platforms.rename", "platforms.approve", "platforms.disable"]


@pytest.mark.parametrize(
    ("path", "data", "status", "words"),
    [
        ("status", {"action": "explode"}, 400, "Unknown action"),
        ("rename", {"name": "   "}, 400, "must not be empty"),
        ("rename", {"name": "x" * 300}, 400, "longer than 255"),
        ("rename", {"name": "bad\x07name"}, 400, "control characters"),
        ("deployments", {"deployment_id": ""}, 400, "must not be empty"),
        ("deployments", {"deployment_id": "d" * 300}, 400, "at most 255"),
    ],
)
def test_bad_input_is_refused_with_the_reason(
    client: FlaskClient, services: Services, ops: str, platform_id: int, path: str, data: dict, status: int, words: str
) -> None:
    response = client.post(f"/admin/academies/{platform_id}/{path}", data={**data, "csrf_token": ops})
    assert response.status_code == status
    assert words in response.get_data(as_text=True)
    assert audit.list_entries(services.db, action="platforms.") == []


def test_forms_refuse_missing_or_wrong_csrf(
    client: FlaskClient, services: Services, ops: str, platform_id: int
) -> None:
    for data in ({"action": "disable"}, {"action": "disable", "csrf_token": "forged"}):
        response = client.post(f"/admin/academies/{platform_id}/status", data=data)
        assert response.status_code == 403
    assert client.post("/admin/keys/rotate", data={"confirm": "yes"}).status_code == 403
    assert client.post("/admin/delivery/retry", data={}).status_code == 403
    assert status_of(services, platform_id) == "active"


def test_supplied_text_is_escaped(client: FlaskClient, services: Services, ops: str) -> None:
    add_pending(services, name=SCRIPT)
    page = client.get("/admin/academies").get_data(as_text=True)
    assert SCRIPT not in page and "&lt;script&gt;" in page


def test_key_rotation_needs_confirmation(client: FlaskClient, services: Services, ops: str) -> None:
    before = services.keys.signing_key().kid
    refused = client.post("/admin/keys/rotate", data={"csrf_token": ops})
    assert refused.status_code == 400 and "Tick the box" in refused.get_data(as_text=True)
    assert services.keys.signing_key().kid == before
    assert client.post("/admin/keys/rotate", data={"csrf_token": ops, "confirm": "yes"}).status_code == 302
    after = services.keys.signing_key().kid
    assert after != before
    page = client.get("/admin/keys").get_data(as_text=True)
    assert after[:16] in page and before[:16] in page and "retired" in page
    [entry] = entries(services, "keys.rotate")
    assert entry.params == {"kid": after}


def dead_delivery(services: Services, platform_id: int, error: str) -> int:
    store = SqlOutboxStore(services.db)
    now = datetime.now(UTC)
    update = ScoreUpdate(
        platform_key=str(platform_id),
        line_item_key="li-1",
        line_item=LineItemRef(url="https://lms.example/lineitems/1"),
        user_id="learner-7",
        score_given=8.0,
        score_maximum=10.0,
        activity_progress=ActivityProgress.COMPLETED,
        grading_progress=GradingProgress.FULLY_GRADED,
        outcome_at=now,
    )
    store.enqueue(update, now=now)
    [item] = store.claim_due(limit=1, lease_seconds=60, now=now, worker_id="t")
    store.mark_dead(item.id, version=item.version, status_code=400, error=error, now=now)
    return item.id


def test_dead_delivery_is_shown_with_the_lms_answer_and_sent_again(
    client: FlaskClient, services: Services, ops: str, platform_id: int
) -> None:
    item_id = dead_delivery(services, platform_id, f"user not enrolled {SCRIPT}")
    page = client.get("/admin/delivery").get_data(as_text=True)
    assert "Example Academy" in page and "learner-7" in page and "HTTP 400: user not enrolled" in page
    assert SCRIPT not in page
    response = client.post("/admin/delivery/retry", data={"platform": str(platform_id), "csrf_token": ops})
    assert response.status_code == 302
    assert SqlOutboxStore(services.db).get(item_id).status == OutboxStatus.PENDING
    [entry] = entries(services, "sync.retry_dead")
    assert entry.params == {"platform": str(platform_id), "count": 1} and entry.platform_id == platform_id
    bad = client.post("/admin/delivery/retry", data={"platform": "1 OR 1=1", "csrf_token": ops})
    assert bad.status_code == 400


def test_audit_log_page_filter_and_csv(client: FlaskClient, services: Services, ops: str, platform_id: int) -> None:
    client.post(f"/admin/academies/{platform_id}/rename", data={"name": '=HYPERLINK("x")', "csrf_token": ops})
    client.post("/admin/keys/rotate", data={"csrf_token": ops, "confirm": "yes"})
    page = client.get("/admin/audit?action=platforms.").get_data(as_text=True)
    assert "platforms.rename" in page and "keys.rotate" not in page
    response = client.get("/admin/audit.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["id", "at", "actor", "action", "platform_id", "params", "source", "outcome"]
    by_action = {r[3]: r for r in rows[1:]}
    assert set(by_action) >= {"platforms.rename", "keys.rotate"}
    assert by_action["platforms.rename"][2] == "ops" and by_action["platforms.rename"][6] == "127.0.0.1"
    assert by_action["platforms.rename"][5] == 'from=Example Academy; to==HYPERLINK("x")'
    assert entries(services, "audit.export")


def test_report_page_and_csv_agree_with_the_figures(
    client: FlaskClient, services: Services, ops: str, platform_id: int
) -> None:
    course = add_course(services, "=cmd|' /C calc'!A0")  # a title a spreadsheet would run
    enrol(services, platform_id, course, "ana", (PASSED, datetime(2026, 5, 2, tzinfo=UTC)))
    enrol(services, platform_id, course, "ben", (FAILED, datetime(2025, 7, 1, tzinfo=UTC)))
    page = client.get("/admin/report").get_data(as_text=True)
    assert 'id="officers-trained">2<' in page and 'id="pass-rate">50%<' in page
    assert page.count('role="img"') == 3
    year = client.get(f"/admin/report?year=2026&platform={platform_id}").get_data(as_text=True)
    assert 'id="officers-trained">1<' in year and 'id="pass-rate">100%<' in year
    bad_year = client.get("/admin/report?year=19x")
    assert bad_year.status_code == 200 and "must be a number like 2026" in bad_year.get_data(as_text=True)
    bad_academy = client.get("/admin/report?platform=abc")
    assert bad_academy.status_code == 200 and "Unknown academy" in bad_academy.get_data(as_text=True)
    response = client.get("/admin/report.csv?year=2026")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "academy" and rows[-1][:3] == ["*", "*", "2"]
    assert rows[1][:2] == ["Example Academy", "'=cmd|' /C calc'!A0"]  # neutralised
    assert rows[1][5:7] == ["1", "1"]  # completed, passed in 2026 (ben's result was in 2025)
    assert entries(services, "report.export")


def test_course_usage_page(client: FlaskClient, services: Services, ops: str, platform_id: int) -> None:
    assert client.get("/admin/packages/999999").status_code == 404
    course = add_course(services, f"Customs {SCRIPT}")
    enrol(services, platform_id, course, "ana", (PASSED, datetime(2026, 5, 2, tzinfo=UTC)))
    enrol(services, platform_id, course, "ben", ({}, None))
    page = client.get(f"/admin/packages/{course[0]}").get_data(as_text=True)
    assert SCRIPT not in page and "Customs &lt;script&gt;" in page
    assert "Version 1" in page and "Example Academy" in page
    row = re.search(r"Example Academy</th>(.*?)</tr>", page, re.S).group(1)
    assert re.findall(r'class="num">(\d+)<', row) == ["1", "2", "1"]  # activities (links), attempts, in progress
