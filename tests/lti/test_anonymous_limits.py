"""Anonymous write amplification: /lti/login and /lti/register write a bounded number of rows.

Per client address (429 with Retry-After), in total (503 with Retry-After), and pending Dynamic
Registrations never approved are forgotten.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lti_helpers import CLIENT_ID, DEPLOYMENT, ISSUER, LAUNCH_URL, Peer, cached_key
from sqlalchemy import func, select, update

from lti_tool import create_app, ratelimit
from lti_tool.lti import platforms
from lti_tool.lti.registration import DynamicRegistration
from lti_tool.lti.registration_config import PlatformConfiguration
from lti_tool.lti.registration_messages import RegistrationAnswer
from lti_tool.services import Services, build_services, services_of
from lti_tool.settings import load_settings
from lti_tool.storage.models import LaunchState, Platform, RateLimitCounter, utcnow

LOGIN = {
    "iss": ISSUER,
    "login_hint": "user-7",
    "target_link_uri": LAUNCH_URL,
    "client_id": CLIENT_ID,
    "lti_deployment_id": DEPLOYMENT,
}


def rows(services: Services, model: Any, *where: Any) -> int:
    with services.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


@pytest.fixture
def limited(settings_overrides: dict[str, dict[str, Any]]) -> Iterator[tuple[Flask, Services]]:
    """An app behind a trusted proxy (127.0.0.1), with small limits."""
    settings_overrides["server"]["trusted_proxies"] = ["127.0.0.1/32"]
    settings_overrides["lti"] = {
        "login_rate_per_minute": 40,
        "max_open_logins": 100,
        "register_rate_per_hour": 5,
        "max_pending_registrations": 8,
    }
    settings = load_settings(environ={}, overrides=settings_overrides)
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    platforms.add_platform(
        services.db,
        issuer=ISSUER,
        client_id=CLIENT_ID,
        auth_login_url=ISSUER + "/auth",
        auth_token_url=ISSUER + "/token",
        key_set_url=ISSUER + "/jwks",
        deployment_ids=(DEPLOYMENT,),
        approve=True,
    )
    yield app, services
    services.db.dispose()


def _login(client: FlaskClient, address: str | None = None) -> Any:
    headers = {"X-Forwarded-For": address} if address else {}
    return client.get("/lti/login", query_string=LOGIN, headers=headers)


# -- /lti/login --------------------------------------------------------------------------------


def test_login_flood_from_one_address_is_bounded(client: FlaskClient, services: Services, peer: Peer) -> None:
    """The issue's measurement: 3,000 anonymous logins from one address wrote 2,727 rows."""
    limit = services.settings.lti.login_rate_per_minute
    answers = [_login(client) for _ in range(3000)]
    codes = [a.status_code for a in answers]
    # a fixed one-minute window: at most two windows' worth pass even across a minute boundary
    assert limit <= codes.count(302) <= 2 * limit
    assert codes.count(429) == 3000 - codes.count(302)
    refused = [a for a in answers if a.status_code == 429]
    assert all(1 <= int(a.headers["Retry-After"]) <= 60 for a in refused)
    assert rows(services, LaunchState) == codes.count(302)
    assert rows(services, RateLimitCounter) <= 2


def test_login_429_answer_is_precise(limited: tuple[Flask, Services]) -> None:
    app, _ = limited
    client = app.test_client()
    for _ in range(40):
        assert _login(client, "203.0.113.5").status_code == 302
    refused = client.get("/lti/login", query_string=LOGIN, headers={"X-Forwarded-For": "203.0.113.5", **_json()})
    assert refused.status_code == 429
    body = refused.get_json()
    assert body["error"] == "rate_limited" and "try again in" in body["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _login(client, "203.0.113.6").status_code == 302  # another client is not affected


def _json() -> dict[str, str]:
    return {"Accept": "application/json"}


def test_login_table_is_capped_over_many_addresses(limited: tuple[Flask, Services]) -> None:
    app, services = limited
    client = app.test_client()
    addresses = (f"198.51.{a}.{b}" for a, b in itertools.product(range(4), range(1, 101)))
    codes = [_login(client, next(addresses)).status_code for _ in range(300)]
    assert rows(services, LaunchState) <= 100
    assert codes.count(302) == 100 and codes.count(503) == 200
    full = client.get("/lti/login", query_string=LOGIN, headers={"X-Forwarded-For": "192.0.2.1", **_json()})
    assert full.status_code == 503 and full.get_json()["error"] == "login_capacity"
    assert int(full.headers["Retry-After"]) == 60


def test_login_table_at_its_cap_purges_expired_rows_first(limited: tuple[Flask, Services]) -> None:
    app, services = limited
    client = app.test_client()
    for i in range(100):
        assert _login(client, f"198.51.100.{i + 1}").status_code == 302
    assert _login(client, "192.0.2.1").status_code == 503
    with services.db.session() as s:
        s.execute(update(LaunchState).values(expires_at=utcnow() - timedelta(seconds=1)))
    services_of(app).login_budget._read_at = float("-inf")  # as after the 2 s refresh
    assert _login(client, "192.0.2.1").status_code == 302
    assert rows(services, LaunchState) == 1


def test_untrusted_peer_cannot_choose_its_address(
    settings_overrides: dict[str, dict[str, Any]],
    services: Services,
    app: Flask,
    peer: Peer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # one instant for the counter: its windows are the clock's minutes, and 305 logins on a busy
    # machine could straddle one (the count starts again: no 429, a flaky failure)
    instant = utcnow()
    monkeypatch.setattr(ratelimit, "utcnow", lambda: instant)
    client = app.test_client()  # no trusted proxy: X-Forwarded-For is ignored
    limit = services.settings.lti.login_rate_per_minute
    codes = [_login(client, f"203.0.113.{i % 250}").status_code for i in range(limit + 5)]
    assert 429 in codes


def test_client_address_rules() -> None:
    trusted = ("10.0.0.0/8",)
    assert ratelimit.client_address("198.51.100.1", "1.2.3.4", trusted) == "198.51.100.1"  # untrusted peer
    assert ratelimit.client_address("10.0.0.2", "1.2.3.4", trusted) == "1.2.3.4"
    assert ratelimit.client_address("10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.9", trusted) == "1.2.3.4"
    assert ratelimit.client_address("10.0.0.2", "garbage", trusted) == "10.0.0.2"
    assert ratelimit.client_address("10.0.0.2", None, trusted) == "10.0.0.2"
    assert ratelimit.client_address("10.0.0.2", "1.2.3.4", ()) == "10.0.0.2"


# -- /lti/register -------------------------------------------------------------------------------

_client_ids = itertools.count(1)


@pytest.fixture
def hostile_lms(monkeypatch: pytest.MonkeyPatch) -> None:
    """An LMS that answers every anonymous registration with a fresh client id (no HTTP)."""

    def fetch(self: DynamicRegistration, url: str) -> PlatformConfiguration:
        return PlatformConfiguration(
            issuer="https://spam.example",
            authorization_endpoint="https://spam.example/auth",
            token_endpoint="https://spam.example/token",
            jwks_uri="https://spam.example/jwks",
            registration_endpoint="https://spam.example/register",
        )

    def post(self: DynamicRegistration, platform: Any, body: Any, token: Any) -> RegistrationAnswer:
        return RegistrationAnswer(client_id=f"spam-{next(_client_ids)}", deployment_id="1", scope=())

    monkeypatch.setattr(DynamicRegistration, "fetch_configuration", fetch)
    monkeypatch.setattr(DynamicRegistration, "post_registration", post)
    cached_key("k1")


def _register(client: FlaskClient, address: str) -> Any:
    return client.get(
        "/lti/register?openid_configuration=https://spam.example/conf&registration_token=t",
        headers={"X-Forwarded-For": address},
    )


def test_register_flood_from_one_address_gets_429(limited: tuple[Flask, Services], hostile_lms: None) -> None:
    app, services = limited
    client = app.test_client()
    codes = [_register(client, "203.0.113.7").status_code for _ in range(30)]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    refused = _register(client, "203.0.113.7")
    assert 1 <= int(refused.headers["Retry-After"]) <= 3600
    assert "oo many registration requests" in refused.get_data(as_text=True)
    assert rows(services, Platform, Platform.status == "pending") == 5


def test_pending_registrations_are_capped(limited: tuple[Flask, Services], hostile_lms: None) -> None:
    app, services = limited
    client = app.test_client()
    codes = [_register(client, f"198.51.100.{i + 1}").status_code for i in range(40)]
    assert codes.count(200) == 8 and codes.count(503) == 32
    assert rows(services, Platform, Platform.status == "pending") == 8
    refused = _register(client, "192.0.2.77")
    assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
    assert "too_many_pending_registrations" in refused.get_data(as_text=True)


def test_pending_registrations_expire(limited: tuple[Flask, Services], hostile_lms: None) -> None:
    app, services = limited
    client = app.test_client()
    for i in range(8):
        assert _register(client, f"198.51.100.{i + 1}").status_code == 200
    assert _register(client, "192.0.2.1").status_code == 503
    ttl = services.settings.lti.pending_registration_ttl_seconds
    with services.db.session() as s:
        s.execute(update(Platform).values(created_at=utcnow() - timedelta(seconds=ttl + 1)))
        # an approved one and a manual pending one are kept whatever their age
        s.execute(update(Platform).where(Platform.issuer == ISSUER).values(status="active"))
    platforms.add_platform(
        services.db,
        issuer="https://manual.example",
        client_id="m",
        auth_login_url="https://manual.example/a",
        auth_token_url="https://manual.example/t",
        key_set_url="https://manual.example/k",
    )
    with services.db.session() as s:
        s.execute(
            update(Platform)
            .where(Platform.issuer == "https://manual.example")
            .values(created_at=utcnow() - timedelta(seconds=ttl + 1))
        )
    assert _register(client, "192.0.2.2").status_code == 200
    assert rows(services, Platform, Platform.source == "dynamic") == 1
    assert rows(services, Platform, Platform.issuer == ISSUER) == 1
    assert rows(services, Platform, Platform.issuer == "https://manual.example") == 1
