"""Operator accounts: lock-out after failed logins, server-side sessions, lifetimes, anti-framing."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from lti_tool import operators
from lti_tool.services import Services
from lti_tool.storage.models import OperatorSession, RateLimitCounter, utcnow

PASSWORD = "correct horse battery"


@pytest.fixture
def operator(services: Services) -> str:
    operators.set_operator(services, "ops", PASSWORD)
    return "ops"


def csrf_from(client: FlaskClient) -> str:
    page = client.get("/admin/login").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def post_login(client: FlaskClient, password: str, *, username: str = "ops", address: str | None = None) -> Any:
    token = csrf_from(client)
    headers = {"X-Forwarded-For": address} if address else {}
    return client.post(
        "/admin/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=headers,
    )


# -- lock-out ----------------------------------------------------------------------------------


def test_sixty_wrong_passwords_then_the_right_one_is_refused(
    client: FlaskClient, operator: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answers = [post_login(client, f"wrong password {i}").status_code for i in range(60)]
    assert answers[:5] == [401] * 5
    assert set(answers[5:]) == {429}
    response = post_login(client, PASSWORD)
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 15 * 60
    page = response.get_data(as_text=True)
    assert "Too many failed logins" in page and "Try again in" in page
    assert client.get("/admin/").status_code == 302  # not logged in
    log = "\n".join(r.getMessage() for r in caplog.records)
    assert "operator_login_locked" in {getattr(r, "action", "") for r in caplog.records}
    assert "operator_lockout" in {getattr(r, "action", "") for r in caplog.records}
    assert "wrong password" not in log and PASSWORD not in log


def test_lockout_is_stored_in_the_database(client: FlaskClient, services: Services, operator: str) -> None:
    for i in range(5):
        post_login(client, f"wrong password {i}")
    with services.db.session() as s:
        counts = sorted(s.scalars(select(RateLimitCounter.count)))
    assert counts == [5, 5]  # the account and the address
    # another "node" (a new app over the same database) refuses too
    from lti_tool import create_app

    other = create_app(services.settings, services=services)
    other.testing = True
    assert post_login(other.test_client(), PASSWORD).status_code == 429


def test_per_account_limit_holds_across_addresses(
    settings_overrides: dict[str, dict[str, Any]], services: Services, client: FlaskClient, operator: str
) -> None:
    # the fixture app trusts no proxy: X-Forwarded-For is ignored, every request is one address
    for i in range(5):
        assert post_login(client, "wrong password", address=f"203.0.113.{i}").status_code == 401
    assert post_login(client, PASSWORD, address="198.51.100.7").status_code == 429


def test_trusted_proxy_addresses_and_per_address_limit(
    settings_overrides: dict[str, dict[str, Any]], tmp_path: Any
) -> None:
    from lti_tool import create_app
    from lti_tool.services import build_services
    from lti_tool.settings import load_settings

    settings_overrides["server"]["trusted_proxies"] = ["127.0.0.0/8"]
    settings = load_settings(environ={}, overrides=settings_overrides)
    services = build_services(settings)
    try:
        operators.set_operator(services, "ops", PASSWORD)
        operators.set_operator(services, "other", PASSWORD)
        app = create_app(settings, services=services)
        app.testing = True
        client = app.test_client()
        # 20 failures spread over many names from one client address lock that address
        for i in range(20):
            assert post_login(client, "wrong", username=f"user{i}", address="203.0.113.9").status_code == 401
        assert post_login(client, PASSWORD, username="other", address="203.0.113.9").status_code == 429
        # the same account from another address is not locked (its own count is 0)
        assert post_login(client, PASSWORD, username="other", address="203.0.113.10").status_code == 302
    finally:
        services.db.dispose()


def test_good_login_clears_the_account_failures(client: FlaskClient, operator: str) -> None:
    for i in range(4):
        assert post_login(client, f"wrong {i}").status_code == 401
    assert post_login(client, PASSWORD).status_code == 302
    client.post("/admin/logout", data={"csrf_token": _page_csrf(client)})
    for i in range(4):
        assert post_login(client, f"wrong again {i}").status_code == 401


def _page_csrf(client: FlaskClient) -> str:
    page = client.get("/admin/").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page[:300]
    return match.group(1)


# -- server-side sessions ------------------------------------------------------------------------


def _session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app_client: FlaskClient, cookie: str) -> int:
    app_client.set_cookie("session", cookie)
    return app_client.get("/admin/").status_code


def test_logout_revokes_the_session_on_the_server(
    client: FlaskClient, app: Any, services: Services, operator: str
) -> None:
    assert post_login(client, PASSWORD).status_code == 302
    old_cookie = _session_cookie(client)
    assert client.get("/admin/").status_code == 200
    with services.db.session() as s:
        rows = s.scalars(select(OperatorSession)).all()
        assert len(rows) == 1 and len(rows[0].id_hash) == 64
    assert client.post("/admin/logout", data={"csrf_token": _page_csrf(client)}).status_code == 302
    with services.db.session() as s:
        assert s.scalars(select(OperatorSession)).all() == []
    attacker = app.test_client()
    assert _replay(attacker, old_cookie) == 302  # the stolen pre-logout cookie is refused
    response = attacker.post("/admin/packages/upload", headers={"Accept": "application/json"})
    assert response.status_code == 401


def test_session_cookie_holds_no_raw_id_in_the_database(client: FlaskClient, services: Services, operator: str) -> None:
    post_login(client, PASSWORD)
    with client.session_transaction() as sess:
        sid = sess["sid"]
    with services.db.session() as s:
        stored = s.scalars(select(OperatorSession.id_hash)).one()
    assert sid not in stored and sid != stored


@pytest.mark.parametrize("which", ["absolute", "idle"])
def test_old_cookie_fails_after_the_session_lifetime(
    client: FlaskClient, app: Any, services: Services, operator: str, which: str
) -> None:
    post_login(client, PASSWORD)
    cookie = _session_cookie(client)
    assert _replay(app.test_client(), cookie) == 200
    past = utcnow() - timedelta(seconds=1)
    with services.db.session() as s:
        if which == "absolute":
            s.execute(update(OperatorSession).values(expires_at=past))
        else:
            idle = services.settings.server.admin_session_idle_seconds
            s.execute(update(OperatorSession).values(last_seen_at=past - timedelta(seconds=idle)))
    assert _replay(app.test_client(), cookie) == 302
    with services.db.session() as s:
        assert s.scalars(select(OperatorSession)).all() == []  # the expired row is gone


def test_session_lifetime_settings(services: Services, operator: str) -> None:
    now = utcnow()
    sid = operators.start_session(services, "ops", now=now)
    server = services.settings.server
    assert operators.check_session(services, sid, now=now + timedelta(seconds=60)) is not None
    idle_end = now + timedelta(seconds=60 + server.admin_session_idle_seconds)
    assert operators.check_session(services, sid, now=idle_end) is None
    sid = operators.start_session(services, "ops", now=now)
    # active every 10 minutes: still ends at the absolute lifetime
    t = now
    while t < now + timedelta(seconds=server.admin_session_max_seconds - 600):
        t += timedelta(seconds=600)
        assert operators.check_session(services, sid, now=t) is not None
    assert operators.check_session(services, sid, now=now + timedelta(seconds=server.admin_session_max_seconds)) is None


def test_new_password_ends_existing_sessions(client: FlaskClient, services: Services, operator: str) -> None:
    post_login(client, PASSWORD)
    assert client.get("/admin/").status_code == 200
    operators.set_operator(services, "ops", PASSWORD + " new")
    assert client.get("/admin/").status_code == 302


# -- anti-framing --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login", "/", "/lti/config"])
def test_pages_not_meant_to_be_framed_deny_framing(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response.headers.get("Content-Security-Policy", "")
    assert response.headers["X-Frame-Options"] == "DENY"


def test_logged_in_admin_pages_deny_framing(client: FlaskClient, operator: str) -> None:
    post_login(client, PASSWORD)
    for path in ("/admin/", "/admin/packages"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["X-Frame-Options"] == "DENY"
    locked = client.get("/admin/")
    assert "frame-ancestors 'none'" in locked.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    [
        "/lti/register",  # Moodle opens Dynamic Registration in a dialog frame
        "/lti/login",  # the login answer renders inside the LMS frame (storage / fallbacks)
        "/play/nosuchlaunch",
        "/class/nosuchlaunch",
        "/player/nosuchattempt",
    ],
)
def test_pages_an_lms_frames_stay_frameable(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors" not in response.headers.get("Content-Security-Policy", "")


def test_operator_can_be_unlocked(client: FlaskClient, services: Services, operator: str) -> None:
    for i in range(5):
        post_login(client, f"wrong password {i}")
    assert post_login(client, PASSWORD).status_code == 429
    operators.unlock(services, "ops")
    assert post_login(client, PASSWORD).status_code == 302


def test_cli_unlock(tmp_path: Any) -> None:
    from click.testing import CliRunner

    from lti_tool.cli import cli

    config = tmp_path / "config.toml"
    config.write_text(
        f'[server]\nsecret_key = "{"k" * 40}"\ninstance_folder = "{tmp_path / "instance"}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "cli.sqlite3"}"\n[keys]\nfolder = "{tmp_path / "keys"}"\n'
    )
    runner = CliRunner()
    assert runner.invoke(cli, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    result = runner.invoke(cli, ["--config", str(config), "operators", "unlock", "ops"], catch_exceptions=False)
    assert result.exit_code == 0 and "ops may log in again" in result.output


def test_parallel_guesses_cannot_slip_past_the_limit(app: Any, operator: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def guess(i: int) -> int:
        return post_login(app.test_client(), f"parallel guess {i}").status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(guess, range(24)))
    assert codes.count(401) == 5 and codes.count(429) == 19
