"""Service tokens: signed client assertion, shared DB cache keyed by (issuer, client_id, scopes), 401 retry."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import jwt
import pytest
import requests
from lti_adv_helpers import Clock, FakeServer, Recorded, add_platform, json_reply, running_fake_server

from lti_tool.lti.tokens import (
    ASSERTION_TYPE,
    SCOPE_LINEITEM,
    SCOPE_NRPS,
    SCOPE_SCORE,
    ServiceTokens,
    ServiceUrlNotRegistered,
    TokenEndpointUnreachable,
    TokenRequestRefused,
    TokenResponseInvalid,
    cache_key,
)
from lti_tool.outbound import OutboundClient
from lti_tool.services import Services
from lti_tool.storage.models import ServiceToken

ISSUER = "https://lms.academy.example"


class TokenEndpoint:
    """A fake OAuth2 token endpoint that verifies the client assertion like Moodle does.

    It checks the form encoding, the grant and assertion types, the signature against the
    tool's published JWKS (by ``kid``), ``iss`` = ``sub`` = a known client id, ``aud``, a fresh
    ``jti`` and a 5-minute lifetime; then issues ``tok-<client>-<n>``.
    """

    def __init__(
        self, services: Services, fake: FakeServer, *, audience: str, expires_in: Any = 3600, clock: Clock | None = None
    ) -> None:
        self.services = services
        self.clock = clock
        self.audience = audience
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.jtis: set[str] = set()
        self.problems: list[str] = []
        self.scopes_seen: list[str] = []
        fake.route("POST", "/token", self)

    def __call__(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        if not rec.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            self.problems.append("not form encoded")
            return json_reply(400, {"error": "invalid_request"})
        form = rec.form
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != ASSERTION_TYPE:
            self.problems.append("bad grant")
            return json_reply(400, {"error": "unsupported_grant_type"})
        assertion = form["client_assertion"]
        header = jwt.get_unverified_header(assertion)
        keys = {k["kid"]: k for k in self.services.keys.jwks()["keys"]}
        if header.get("kid") not in keys:
            self.problems.append("unknown kid")
            return json_reply(401, {"error": "invalid_client"})
        key = jwt.PyJWK(keys[header["kid"]]).key
        try:
            claims = jwt.decode(
                assertion,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                options={
                    "require": ["iss", "sub", "aud", "iat", "exp", "jti"],
                    "verify_exp": self.clock is None,
                    "verify_iat": self.clock is None,
                },
            )
            if self.clock is not None and not claims["iat"] <= self.clock().timestamp() < claims["exp"]:
                raise jwt.ExpiredSignatureError("outside the assertion lifetime by the test clock")
        except jwt.PyJWTError as exc:
            self.problems.append(f"bad assertion: {exc!r}")
            return json_reply(401, {"error": "invalid_client"})
        if claims["iss"] != claims["sub"] or claims["exp"] - claims["iat"] != 300:
            self.problems.append("iss/sub/lifetime")
            return json_reply(401, {"error": "invalid_client"})
        if claims["jti"] in self.jtis:
            self.problems.append("replayed jti")
            return json_reply(401, {"error": "invalid_client"})
        self.jtis.add(claims["jti"])
        self.scopes_seen.append(form["scope"])
        token = f"tok-{claims['sub']}-{len(self.issued) + 1}"
        self.issued.append(token)
        body: dict[str, Any] = {"access_token": token, "token_type": "bearer", "scope": form["scope"]}
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        return json_reply(200, body)


def make_client(services: Services, clock: Clock, **kw: Any) -> ServiceTokens:
    kw.setdefault("session", services.http)
    return ServiceTokens(services.db, services.keys, timeout=2.0, clock=clock, **kw)


def test_token_request_is_a_signed_assertion_and_is_cached(services: Services, fake_server: FakeServer, clock: Clock):
    endpoint = TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)

    first = tokens.get_token(platform, [SCOPE_SCORE, SCOPE_LINEITEM])
    second = tokens.get_token(platform, [SCOPE_LINEITEM, SCOPE_SCORE, SCOPE_SCORE])  # order/duplicates ignored

    assert first == second == "tok-c1-1"
    assert endpoint.problems == []
    assert len(fake_server.hits("/token")) == 1
    assert endpoint.scopes_seen == [f"{SCOPE_LINEITEM} {SCOPE_SCORE}"]


def test_audience_is_the_authorization_server_when_the_platform_names_one(
    services: Services, fake_server: FakeServer, clock: Clock
):
    endpoint = TokenEndpoint(services, fake_server, audience="https://auth.academy.example")
    platform = add_platform(
        services,
        issuer=ISSUER,
        client_id="c1",
        token_url=fake_server.url("/token"),
        audience="https://auth.academy.example",
    )
    assert make_client(services, clock).get_token(platform, [SCOPE_NRPS]) == "tok-c1-1"
    assert endpoint.problems == []


def test_cache_is_shared_through_the_database(services: Services, fake_server: FakeServer, clock: Clock):
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    worker_a, worker_b = make_client(services, clock), make_client(services, clock)

    assert worker_a.get_token(platform, [SCOPE_SCORE]) == worker_b.get_token(platform, [SCOPE_SCORE])
    assert len(fake_server.hits("/token")) == 1
    with services.db.session() as s:
        row = s.get(ServiceToken, cache_key(ISSUER, "c1", [SCOPE_SCORE]))
        assert row is not None and row.client_id == "c1" and row.scopes == SCOPE_SCORE


def test_two_client_ids_of_one_issuer_get_distinct_tokens(services: Services, fake_server: FakeServer, clock: Clock):
    """pylti1p3 2.0.2 keys its cache by issuer and scopes only: client c2 would get c1's token."""
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    one = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    two = add_platform(services, issuer=ISSUER, client_id="c2", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)

    t1, t2 = tokens.get_token(one, [SCOPE_SCORE]), tokens.get_token(two, [SCOPE_SCORE])

    assert (t1, t2) == ("tok-c1-1", "tok-c2-2")
    assert tokens.get_token(one, [SCOPE_SCORE]) == t1 and tokens.get_token(two, [SCOPE_SCORE]) == t2
    assert cache_key(ISSUER, "c1", [SCOPE_SCORE]) != cache_key(ISSUER, "c2", [SCOPE_SCORE])


def test_different_scopes_are_different_tokens(services: Services, fake_server: FakeServer, clock: Clock):
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)
    assert tokens.get_token(platform, [SCOPE_SCORE]) != tokens.get_token(platform, [SCOPE_NRPS])


@pytest.mark.parametrize(
    ("expires_in", "margin", "still_cached_after", "renewed_after"),
    [
        (3600, 60, 3539, 3540),  # renewed one margin before the platform's expiry
        (60, 60, 29, 30),  # short-lived: half its life
        (None, 60, 3539, 3540),  # no expires_in: Security Framework default of one hour
        ("120", 30, 89, 90),  # numeric strings are tolerated
    ],
)
def test_token_expiry_with_margin(
    services: Services,
    fake_server: FakeServer,
    clock: Clock,
    expires_in: Any,
    margin: int,
    still_cached_after: int,
    renewed_after: int,
):
    endpoint = TokenEndpoint(
        services, fake_server, audience=fake_server.url("/token"), expires_in=expires_in, clock=clock
    )
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock, margin_seconds=margin)
    start = clock.now
    assert tokens.get_token(platform, [SCOPE_SCORE]) == "tok-c1-1"
    clock.advance(still_cached_after)
    assert tokens.get_token(platform, [SCOPE_SCORE]) == "tok-c1-1"
    clock.now = start
    clock.advance(renewed_after)
    assert tokens.get_token(platform, [SCOPE_SCORE]) == "tok-c1-2"
    assert endpoint.problems == []


def test_force_refresh_bypasses_the_cache(services: Services, fake_server: FakeServer, clock: Clock):
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)
    assert tokens.get_token(platform, [SCOPE_SCORE]) == "tok-c1-1"
    assert tokens.get_token(platform, [SCOPE_SCORE], force_refresh=True) == "tok-c1-2"
    assert tokens.get_token(platform, [SCOPE_SCORE]) == "tok-c1-2"


def _resource(endpoint: TokenEndpoint, accept: str = "latest") -> Any:
    def handler(rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        auth = rec.headers.get("Authorization", "")
        valid = {"latest": endpoint.issued[-1:], "none": []}[accept]
        if auth.removeprefix("Bearer ") in valid:
            return json_reply(200, {"ok": True})
        return json_reply(401, {"error": "invalid_token"})

    return handler


def test_authorized_request_retries_once_with_a_fresh_token_on_401(
    services: Services, fake_server: FakeServer, clock: Clock
):
    endpoint = TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)
    tokens.get_token(platform, [SCOPE_SCORE])
    endpoint.issued.append("revoked-by-platform")  # the cached token is no longer the valid one
    fake_server.route("GET", "/service", _resource(endpoint))

    response = tokens.authorized_request("GET", fake_server.url("/service"), platform=platform, scopes=[SCOPE_SCORE])

    assert response.status_code == 200
    auths = [r.headers["Authorization"] for r in fake_server.hits("/service")]
    assert auths == ["Bearer tok-c1-1", "Bearer tok-c1-3"]
    assert tokens.get_token(platform, [SCOPE_SCORE]) == "tok-c1-3"  # the fresh token replaced the cached one


def test_authorized_request_gives_up_after_one_retry(services: Services, fake_server: FakeServer, clock: Clock):
    endpoint = TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    fake_server.route("GET", "/service", _resource(endpoint, accept="none"))
    response = make_client(services, clock).authorized_request(
        "GET", fake_server.url("/service"), platform=platform, scopes=[SCOPE_SCORE]
    )
    assert response.status_code == 401
    assert len(fake_server.hits("/service")) == 2
    assert len(fake_server.hits("/token")) == 2


@pytest.mark.parametrize(
    ("reply", "error", "code", "transient"),
    [
        (json_reply(400, {"error": "invalid_scope"}), TokenRequestRefused, "token_request_refused", False),
        (json_reply(401, {"error": "invalid_client"}), TokenRequestRefused, "token_request_refused", False),
        (json_reply(503, {"error": "temporarily_unavailable"}), TokenRequestRefused, "token_request_refused", True),
        (
            (200, {"Content-Type": "text/html"}, b"<html>login</html>"),
            TokenResponseInvalid,
            "token_response_invalid",
            False,
        ),
        (json_reply(200, {"token_type": "bearer"}), TokenResponseInvalid, "token_response_invalid", False),
        (
            json_reply(200, {"access_token": "t", "expires_in": -5}),
            TokenResponseInvalid,
            "token_response_invalid",
            False,
        ),
    ],
)
def test_token_endpoint_failures(
    services: Services, fake_server: FakeServer, clock: Clock, reply: Any, error: type, code: str, transient: bool
):
    fake_server.route("POST", "/token", lambda rec: reply)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    with pytest.raises(error) as err:
        make_client(services, clock).get_token(platform, [SCOPE_SCORE])
    assert err.value.code == code
    assert err.value.transient is transient
    assert "client_assertion" not in str(err.value) and "eyJ" not in str(err.value)


def test_invalid_scope_message_tells_the_admin_what_to_enable(
    services: Services, fake_server: FakeServer, clock: Clock
):
    fake_server.route("POST", "/token", lambda rec: json_reply(400, {"error": "invalid_scope"}))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    with pytest.raises(TokenRequestRefused) as err:
        make_client(services, clock).get_token(platform, [SCOPE_SCORE])
    assert err.value.oauth_error == "invalid_scope" and "enable" in err.value.message


def test_unreachable_token_endpoint(services: Services, clock: Clock):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=f"http://127.0.0.1:{port}/token")
    with pytest.raises(TokenEndpointUnreachable) as err:
        make_client(services, clock).get_token(platform, [SCOPE_SCORE])
    assert err.value.code == "token_endpoint_unreachable" and err.value.transient


def test_token_endpoint_timeout(services: Services, fake_server: FakeServer, clock: Clock):
    def slow(rec: Recorded) -> Any:
        time.sleep(0.6)
        return json_reply(200, {"access_token": "late"})

    fake_server.route("POST", "/token", slow)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = ServiceTokens(services.db, services.keys, timeout=0.2, clock=clock, session=services.http)
    with pytest.raises(TokenEndpointUnreachable) as err:
        tokens.get_token(platform, [SCOPE_SCORE])
    assert "did not answer in time" in err.value.message


def test_tokens_are_never_logged(
    services: Services, fake_server: FakeServer, clock: Clock, caplog: pytest.LogCaptureFixture
):
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    caplog.set_level("DEBUG")
    token = make_client(services, clock).get_token(platform, [SCOPE_SCORE])
    assert caplog.records, "the token request should be logged (without the token)"
    assert token not in caplog.text and "eyJ" not in caplog.text


def test_assertion_is_accepted_by_the_lti1p3platform_reference_platform(
    services: Services, fake_server: FakeServer, clock: Clock
):
    """An independent platform implementation (PyPI lti1p3platform) verifies our assertion by kid."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
    from lti1p3platform.registration import Registration

    platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = platform_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    registration = Registration().set_iss(ISSUER).set_client_id("c1").set_tool_key_set(services.keys.jwks())
    registration.set_platform_private_key(pem)

    class ReferencePlatform(LTI1P3PlatformConfAbstract):
        def init_platform_config(self, **kwargs: Any) -> None:
            return None

        def get_registration_by_params(self, **kwargs: Any) -> Registration:
            return registration

    reference = ReferencePlatform()
    reference.get_registration()

    def token(rec: Recorded) -> Any:
        return json_reply(200, dict(reference.get_access_token(rec.form)))

    fake_server.route("POST", "/token", token)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    access = make_client(services, clock).get_token(platform, [SCOPE_SCORE, SCOPE_NRPS])
    claims = jwt.decode(access, platform_key.public_key(), algorithms=["RS256"])
    assert claims["sub"] == "c1"
    assert set(claims["scopes"].split()) == {SCOPE_SCORE, SCOPE_NRPS}


def test_requests_carry_a_timeout(services: Services, clock: Clock, monkeypatch: pytest.MonkeyPatch):
    seen: dict[str, Any] = {}

    class Spy(requests.Session):
        def post(self, url: str, **kw: Any) -> Any:  # type: ignore[override]
            seen.update(kw)
            raise requests.ConnectionError("spy")

    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url="https://lms.academy.example/token")
    with pytest.raises(TokenEndpointUnreachable):
        ServiceTokens(services.db, services.keys, timeout=3.5, session=Spy(), clock=clock).get_token(platform, ["x"])
    assert seen["timeout"] == 3.5
    assert seen["data"]["scope"] == "x" and seen["data"]["grant_type"] == "client_credentials"


def test_expired_tokens_are_purged(services: Services, fake_server: FakeServer, clock: Clock):
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"), clock=clock)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)
    tokens.get_token(platform, [SCOPE_SCORE])
    tokens.get_token(platform, [SCOPE_NRPS])
    assert tokens.purge_expired() == 0
    clock.advance(3600)
    assert tokens.purge_expired() == 2


def test_authorized_request_accepts_a_per_call_timeout(services: Services, fake_server: FakeServer, clock: Clock):
    endpoint = TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    fake_server.route("GET", "/service", _resource(endpoint))
    response = make_client(services, clock).authorized_request(
        "GET", fake_server.url("/service"), platform=platform, scopes=[SCOPE_SCORE], timeout=1.0
    )
    assert response.status_code == 200


def test_the_bearer_token_never_goes_to_a_host_the_platform_did_not_register(
    services: Services, fake_server: FakeServer, clock: Clock
):
    TokenEndpoint(services, fake_server, audience=fake_server.url("/token"))
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    tokens = make_client(services, clock)
    with running_fake_server() as collector:
        collector.route("GET", "/collect", lambda rec: json_reply(200, {}))
        with pytest.raises(ServiceUrlNotRegistered) as err:
            tokens.authorized_request("GET", collector.url("/collect"), platform=platform, scopes=[SCOPE_SCORE])
        assert collector.requests == []
    assert err.value.code == "service_url_refused" and not err.value.transient
    assert fake_server.hits("/token") == []


def test_a_trickling_token_endpoint_is_cut_at_the_deadline(services: Services, fake_server: FakeServer, clock: Clock):
    def slow(rec: Recorded) -> Any:
        time.sleep(3)
        return json_reply(200, {"access_token": "late"})

    fake_server.route("POST", "/token", slow)
    platform = add_platform(services, issuer=ISSUER, client_id="c1", token_url=fake_server.url("/token"))
    policy = dataclasses.replace(services.http.policy, deadline_seconds=0.5)
    tokens = ServiceTokens(services.db, services.keys, timeout=10.0, clock=clock, session=OutboundClient(policy))
    started = time.monotonic()
    with pytest.raises(TokenEndpointUnreachable):
        tokens.get_token(platform, [SCOPE_SCORE])
    assert time.monotonic() - started < 2.5
