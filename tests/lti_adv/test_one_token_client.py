"""One client-credentials token client: NRPS (web app) and AGS (grade worker) share one request path and one cache."""

from __future__ import annotations

from typing import Any

import pytest
from lti_adv_helpers import Clock, FakeServer, Recorded, add_platform, json_reply

from lti_tool.lti.tokens import DbTokenCache, KeyStoreSigning, ServiceTokens, endpoints_of
from lti_tool.services import Services
from sync import tokens as sync_tokens
from sync.lti_claims import AGS_SCOPES, SCOPE_NRPS
from sync.tokens import ClientCredentialsTokenProvider

ISSUER = "https://lms.academy.example"


def _token_endpoint(fake: FakeServer) -> list[str]:
    issued: list[str] = []

    def reply(rec: Recorded) -> Any:
        issued.append(f"tok-{len(issued) + 1}")
        return json_reply(200, {"access_token": issued[-1], "expires_in": 3600, "scope": rec.form["scope"]})

    fake.route("POST", "/token", reply)
    return issued


def test_nrps_and_ags_tokens_go_through_the_one_token_request(
    services: Services, fake_server: FakeServer, clock: Clock, monkeypatch: pytest.MonkeyPatch
):
    _token_endpoint(fake_server)
    fake_server.route("GET", "/lineitems", lambda rec: json_reply(200, []))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    calls: list[tuple[str, ...]] = []
    original = sync_tokens.request_token

    def spy(session: Any, endpoint: Any, assertion: str, scopes: Any, **kw: Any) -> tuple[str, int]:
        calls.append(tuple(scopes))
        return original(session, endpoint, assertion, scopes, **kw)

    monkeypatch.setattr(sync_tokens, "request_token", spy)

    nrps = ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, session=services.http)
    nrps.get_token(platform, [SCOPE_NRPS])  # what the roster client asks for
    ags = services.ags  # what `sync verify` and the worker use (built by build_services)
    assert ags.list_line_items(endpoints_of(platform), fake_server.url("/lineitems")) == []

    assert calls == [(SCOPE_NRPS,), tuple(sorted(AGS_SCOPES))]
    assert len(fake_server.hits("/token")) == 2
    assert isinstance(nrps.provider, ClientCredentialsTokenProvider)


def test_a_token_one_path_obtained_is_reused_by_the_other(services: Services, fake_server: FakeServer, clock: Clock):
    _token_endpoint(fake_server)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    web = ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, session=services.http)
    worker = ClientCredentialsTokenProvider(
        KeyStoreSigning(services.keys), DbTokenCache(services.db), session=services.http, clock=clock
    )
    assert web.get_token(platform, AGS_SCOPES) == "tok-1"
    assert worker.get_token(endpoints_of(platform), reversed(AGS_SCOPES)) == "tok-1"
    assert len(fake_server.hits("/token")) == 1


def test_the_expiry_margin_holds_whichever_process_stored_the_token(
    services: Services, fake_server: FakeServer, clock: Clock
):
    """A worker-stored token is not used by the web app in its last minute (it could expire in flight)."""
    _token_endpoint(fake_server)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    worker = ClientCredentialsTokenProvider(
        KeyStoreSigning(services.keys), DbTokenCache(services.db), session=services.http, clock=clock
    )
    web = ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, session=services.http)
    assert worker.get_token(endpoints_of(platform), [SCOPE_NRPS]) == "tok-1"
    clock.advance(3539)
    assert web.get_token(platform, [SCOPE_NRPS]) == "tok-1"
    clock.advance(20)  # 41 s before the platform's expiry: inside the 60 s margin
    assert web.get_token(platform, [SCOPE_NRPS]) == "tok-2"
