"""Dynamic Registration against a simulated Moodle (real HTTP on 127.0.0.1) and hostile platforms."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lti_adv_helpers import REG_TOKEN, FakeServer, Recorded, SimulatedMoodle, json_reply, running_fake_server
from sqlalchemy import select

from lti_tool import create_app
from lti_tool.lti.registration_config import (
    ConfigurationInvalid,
    HostRefused,
    IssuerMismatch,
    IssuerNotSecure,
    PlatformConfiguration,
    RegistrationResponseInvalid,
    ToolUrls,
    check_secure_url,
    parse_platform_configuration,
)
from lti_tool.lti.registration_messages import build_tool_registration, parse_registration_answer, requested_scopes
from lti_tool.lti.tokens import SCOPE_LINEITEM, SCOPE_NRPS, SCOPE_SCORE, TOOL_SCOPES
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings
from lti_tool.storage.models import Platform
from sync.lti_claims import TOOL_CONFIGURATION


@pytest.fixture
def moodle(fake_server: FakeServer) -> SimulatedMoodle:
    return SimulatedMoodle(fake_server)


def register_url(configuration_url: str | None, token: str | None = REG_TOKEN) -> str:
    params = {}
    if configuration_url is not None:
        params["openid_configuration"] = configuration_url
    if token is not None:
        params["registration_token"] = token
    return "/lti/register?" + urlencode(params)


def platforms(services: Services) -> list[Platform]:
    with services.db.session() as s:
        rows = list(s.scalars(select(Platform).order_by(Platform.id)))
        for r in rows:
            _ = r.deployments
        return rows


# -- the happy path against Moodle's rules --------------------------------------------------


def test_moodle_registration_ends_with_a_pending_platform(
    client: FlaskClient, services: Services, moodle: SimulatedMoodle, caplog: pytest.LogCaptureFixture
):
    caplog.set_level("DEBUG")
    response = client.get(register_url(moodle.configuration_url))

    assert response.status_code == 200, response.get_data(as_text=True)
    page = response.get_data(as_text=True)
    assert 'postMessage({subject: "org.imsglobal.lti.close"}, "*")' in page
    assert "(window.opener || window.parent)" in page
    assert "cbsi-connect platforms approve 1" in page
    assert "<strong>Activate</strong>" in page and "<strong>Tool configuration usage</strong>" in page
    assert response.headers["Cache-Control"] == "no-store"

    [row] = platforms(services)
    assert (row.issuer, row.client_id, row.status, row.source) == (
        moodle.issuer,
        "moodle-client-1",
        "pending",
        "dynamic",
    )
    assert row.auth_login_url == moodle.fake.url("/mod/lti/auth.php")
    assert row.auth_token_url == moodle.fake.url("/mod/lti/token.php")
    assert row.key_set_url == moodle.fake.url("/mod/lti/certs.php")
    assert row.auth_audience is None
    assert [d.deployment_id for d in row.deployments] == ["1"]
    assert row.details["registration"]["product_family_code"] == "moodle"

    # What the tool sent: Moodle's rules passed, and the tool asked for what it needs.
    [sent] = moodle.registrations
    assert sent["application_type"] == "web"
    assert sent["response_types"] == ["id_token"]
    assert sent["grant_types"] == ["implicit", "client_credentials"]
    assert sent["initiate_login_uri"] == "http://localhost/lti/login"
    assert sent["redirect_uris"] == ["http://localhost/lti/launch"]
    assert sent["jwks_uri"] == "http://localhost/.well-known/jwks.json"
    assert sent["logo_uri"] == "http://localhost/lti/logo.svg"
    assert sent["client_name"] == "CBSI-Connect"
    assert set(sent["scope"].split()) == set(TOOL_SCOPES)
    conf = sent[TOOL_CONFIGURATION]
    assert conf["domain"] == "localhost" and conf["target_link_uri"] == "http://localhost/lti/launch"
    assert conf["claims"] == ["iss", "sub", "name", "given_name", "family_name", "email"]
    messages = {m["type"]: m for m in conf["messages"]}
    assert messages["LtiDeepLinkingRequest"]["target_link_uri"] == "http://localhost/lti/launch"
    assert messages["LtiDeepLinkingRequest"]["placements"] == ["ContentArea"]
    assert "LtiResourceLinkRequest" in messages

    # The registration token is a credential: sent as bearer, never logged.
    [post] = moodle.fake.hits("/mod/lti/openid-registration.php")
    assert post.headers["Authorization"] == f"Bearer {REG_TOKEN}"
    assert REG_TOKEN not in caplog.text

    # Approving (the operator's CLI does this) makes it active.
    with services.db.session() as s:
        s.get(Platform, row.id).status = "active"  # type: ignore[union-attr]
    assert platforms(services)[0].status == "active"


def test_registration_token_is_single_use(client: FlaskClient, services: Services, moodle: SimulatedMoodle):
    assert client.get(register_url(moodle.configuration_url)).status_code == 200
    again = client.get(register_url(moodle.configuration_url))
    assert again.status_code == 502
    page = again.get_data(as_text=True)
    assert "registration_refused" in page and "HTTP 401" in page and "token_already_used" in page
    assert "works once and expires" in page
    assert REG_TOKEN not in page
    assert len(platforms(services)) == 1


def test_logo_is_served(client: FlaskClient):
    response = client.get("/lti/logo.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"


@pytest.fixture
def auto_app(settings_overrides: dict[str, Any], services: Services, fake_server: FakeServer) -> Iterator[Flask]:
    overrides = {**settings_overrides, "lti": {"auto_approve_issuers": [fake_server.base_url]}}
    settings = load_settings(environ={}, overrides=overrides)
    app = create_app(settings, services=build_services(settings, db=services.db, keys=services.keys))
    app.testing = True
    yield app


def test_auto_approved_issuer_is_active_at_once(auto_app: Flask, services: Services, moodle: SimulatedMoodle):
    response = auto_app.test_client().get(register_url(moodle.configuration_url))
    assert response.status_code == 200
    assert 'id="active"' in response.get_data(as_text=True)
    assert platforms(services)[0].status == "active"


def test_scopes_are_restricted_to_what_the_platform_supports(client: FlaskClient, moodle: SimulatedMoodle):
    moodle.scopes_supported = ["openid", SCOPE_SCORE, SCOPE_NRPS]
    assert client.get(register_url(moodle.configuration_url)).status_code == 200
    assert moodle.registrations[0]["scope"].split() == [SCOPE_SCORE, SCOPE_NRPS]


def test_authorization_server_becomes_the_token_audience(
    client: FlaskClient, services: Services, moodle: SimulatedMoodle, fake_server: FakeServer
):
    doc = moodle.document()
    doc["authorization_server"] = "https://auth.moodle.example"
    fake_server.route("GET", "/mod/lti/openid-configuration.php", lambda rec: json_reply(200, doc))
    assert client.get(register_url(moodle.configuration_url)).status_code == 200
    assert platforms(services)[0].auth_audience == "https://auth.moodle.example"


# -- hostile and broken platforms ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("scenario", "status", "code"),
    [
        ("missing_configuration_parameter", 400, "registration_parameter_missing"),
        ("configuration_not_a_url", 400, "registration_parameter_missing"),
        ("configuration_with_control_characters", 400, "registration_parameter_missing"),
        ("unreachable", 502, "configuration_unreachable"),
        ("configuration_404", 502, "configuration_unreachable"),
        ("non_json", 502, "configuration_invalid"),
        ("json_array", 502, "configuration_invalid"),
        ("missing_registration_endpoint", 502, "configuration_invalid"),
        ("issuer_other_host", 400, "issuer_mismatch"),
        ("issuer_plain_http_remote", 400, "issuer_not_https"),
        ("endpoint_plain_http_remote", 400, "issuer_not_https"),
        ("timeout", 502, "configuration_unreachable"),
        ("no_registration_token", 502, "registration_refused"),
        ("wrong_registration_token", 502, "registration_refused"),
        ("registration_answer_without_client_id", 502, "registration_response_invalid"),
        ("registration_answer_not_json", 502, "registration_response_invalid"),
        ("registration_endpoint_down", 502, "configuration_unreachable"),
    ],
)
def test_registration_failures_get_a_clear_page_and_store_nothing(
    settings_overrides: dict[str, Any],
    services: Services,
    moodle: SimulatedMoodle,
    fake_server: FakeServer,
    scenario: str,
    status: int,
    code: str,
):
    overrides = {**settings_overrides, "lti": {"http_timeout_seconds": 0.3}}
    settings = load_settings(environ={}, overrides=overrides)
    app = create_app(settings, services=build_services(settings, db=services.db, keys=services.keys))
    app.testing = True
    url = register_url(moodle.configuration_url)
    doc = moodle.document()
    conf_path = "/mod/lti/openid-configuration.php"
    reg_path = "/mod/lti/openid-registration.php"
    if scenario == "missing_configuration_parameter":
        url = register_url(None)
    elif scenario == "configuration_not_a_url":
        url = register_url("javascript:alert(1)")
    elif scenario == "configuration_with_control_characters":
        url = register_url(moodle.configuration_url + "\n2026-01-01 INFO forged log line")
    elif scenario == "unreachable":
        url = register_url(f"http://127.0.0.1:{_free_port()}/openid-configuration")
    elif scenario == "configuration_404":
        url = register_url(fake_server.url("/nowhere"))
    elif scenario == "non_json":
        fake_server.route("GET", conf_path, lambda rec: (200, {"Content-Type": "text/html"}, b"<html>login</html>"))
    elif scenario == "json_array":
        fake_server.route("GET", conf_path, lambda rec: json_reply(200, [doc]))
    elif scenario == "missing_registration_endpoint":
        del doc["registration_endpoint"]
        fake_server.route("GET", conf_path, lambda rec: json_reply(200, doc))
    elif scenario == "issuer_other_host":
        doc["issuer"] = "https://evil.example"
        fake_server.route("GET", conf_path, lambda rec: json_reply(200, doc))
    elif scenario == "issuer_plain_http_remote":
        # Served from 127.0.0.1 but naming a remote plain-http issuer on the same "host" is impossible;
        # a remote http issuer is refused before the host comparison.
        doc["issuer"] = "http://lms.example"
        fake_server.route("GET", conf_path, lambda rec: json_reply(200, doc))
    elif scenario == "endpoint_plain_http_remote":
        doc["token_endpoint"] = "http://lms.example/token"
        fake_server.route("GET", conf_path, lambda rec: json_reply(200, doc))
    elif scenario == "timeout":

        def slow(rec: Recorded) -> Any:
            time.sleep(0.8)
            return json_reply(200, doc)

        fake_server.route("GET", conf_path, slow)
    elif scenario == "no_registration_token":
        url = register_url(moodle.configuration_url, token=None)
    elif scenario == "wrong_registration_token":
        url = register_url(moodle.configuration_url, token="forged")
    elif scenario == "registration_answer_without_client_id":
        fake_server.route("POST", reg_path, lambda rec: json_reply(200, {"client_name": "x"}))
    elif scenario == "registration_answer_not_json":
        fake_server.route("POST", reg_path, lambda rec: (200, {"Content-Type": "text/plain"}, b"ok"))
    elif scenario == "registration_endpoint_down":
        doc["registration_endpoint"] = f"http://127.0.0.1:{_free_port()}/register"
        fake_server.route("GET", conf_path, lambda rec: json_reply(200, doc))

    response = app.test_client().get(url)

    page = response.get_data(as_text=True)
    assert response.status_code == status, page
    assert f"<code>{code}</code>" in page
    assert "start the registration again from your LMS" in page
    assert 'postMessage({subject: "org.imsglobal.lti.close"}, "*")' in page  # DR §4: successfully or not
    assert REG_TOKEN not in page
    assert platforms(services) == []


def test_issuer_mismatch_never_posts_the_registration_token(
    client: FlaskClient, moodle: SimulatedMoodle, fake_server: FakeServer
):
    doc = moodle.document()
    doc["issuer"] = "https://evil.example"
    fake_server.route("GET", "/mod/lti/openid-configuration.php", lambda rec: json_reply(200, doc))
    assert client.get(register_url(moodle.configuration_url)).status_code == 400
    assert fake_server.hits("/mod/lti/openid-registration.php") == []


def test_plain_http_localhost_is_refused_outside_demo_and_test(settings_overrides: dict[str, Any], services: Services):
    """Outside demo/test mode a plain-http configuration URL is refused, even on localhost."""
    with running_fake_server() as fake:
        moodle = SimulatedMoodle(fake)
        app = create_app(load_settings(environ={}, overrides=settings_overrides), services=services)
        response = app.test_client().get(register_url(moodle.configuration_url))
        assert response.status_code == 400 and "issuer_not_https" in response.get_data(as_text=True)
        assert fake.requests == []


# -- pure functions --------------------------------------------------------------------------

BASE_DOC = {
    "issuer": "https://moodle.academy.example",
    "authorization_endpoint": "https://moodle.academy.example/mod/lti/auth.php",
    "token_endpoint": "https://moodle.academy.example/mod/lti/token.php",
    "jwks_uri": "https://moodle.academy.example/mod/lti/certs.php",
    "registration_endpoint": "https://moodle.academy.example/mod/lti/openid-registration.php",
}
CONF_URL = "https://moodle.academy.example/mod/lti/openid-configuration.php"


@pytest.mark.parametrize(
    ("change", "conf_url", "local_ok", "error"),
    [
        ({}, CONF_URL, False, None),
        ({"issuer": "https://moodle.academy.example/"}, CONF_URL, False, None),
        ({"issuer": "https://MOODLE.academy.example"}, CONF_URL, False, None),  # hosts compare case-insensitively
        ({"issuer": "https://other.example"}, CONF_URL, False, IssuerMismatch),
        ({"issuer": "https://academy.example"}, CONF_URL, False, IssuerMismatch),  # parent domain is another host
        ({"issuer": "http://moodle.academy.example"}, CONF_URL, False, IssuerNotSecure),
        ({"issuer": "http://localhost:8080"}, "http://localhost:8080/c", False, IssuerNotSecure),
        ({"issuer": "http://localhost:8080"}, "http://localhost:8080/c", True, "endpoints"),
        ({"issuer": ""}, CONF_URL, False, ConfigurationInvalid),
        ({"jwks_uri": None}, CONF_URL, False, ConfigurationInvalid),
        ({"token_endpoint": 42}, CONF_URL, False, ConfigurationInvalid),
        ({"token_endpoint": "http://moodle.academy.example/token"}, CONF_URL, False, IssuerNotSecure),
    ],
)
def test_parse_platform_configuration(
    change: dict[str, Any], conf_url: str, local_ok: bool, error: type[Exception] | str | None
):
    doc = {**BASE_DOC, **change}
    if error == "endpoints":
        # issuer accepted on localhost; the remote https endpoints are fine too
        parsed = parse_platform_configuration(doc, configuration_url=conf_url, allow_insecure_localhost=local_ok)
        assert parsed.issuer == "http://localhost:8080"
        return
    if error is None:
        parsed = parse_platform_configuration(doc, configuration_url=conf_url, allow_insecure_localhost=local_ok)
        assert parsed.token_endpoint == BASE_DOC["token_endpoint"]
        assert parsed.scopes_supported is None
        return
    assert isinstance(error, type)
    with pytest.raises(error):
        parse_platform_configuration(doc, configuration_url=conf_url, allow_insecure_localhost=local_ok)


@pytest.mark.parametrize(
    ("supported", "expected"),
    [
        (None, TOOL_SCOPES),
        ((), ()),
        (("openid", SCOPE_LINEITEM), (SCOPE_LINEITEM,)),
        (TOOL_SCOPES, TOOL_SCOPES),
    ],
)
def test_requested_scopes(supported: tuple[str, ...] | None, expected: tuple[str, ...]):
    conf = PlatformConfiguration(**BASE_DOC, scopes_supported=supported)  # type: ignore[arg-type]
    assert requested_scopes(conf) == expected


def test_tool_registration_domain_is_the_target_link_host_and_port():
    """Moodle 4.5 compares the domain with host:port of target_link_uri (real Moodle item 1)."""
    conf = PlatformConfiguration(**BASE_DOC)  # type: ignore[arg-type]
    body = build_tool_registration(conf, urls=ToolUrls(base_url="https://cbsi.example:8443/"), tool_name="CBSI")
    tool = body[TOOL_CONFIGURATION]
    assert tool["target_link_uri"] == "https://cbsi.example:8443/lti/launch"
    assert tool["domain"] == "cbsi.example:8443"
    assert body["token_endpoint_auth_method"] == "private_key_jwt"


@pytest.mark.parametrize(
    ("answer", "client_id", "deployment_id"),
    [
        ({"client_id": "abc", TOOL_CONFIGURATION: {"deployment_id": "7"}}, "abc", "7"),
        ({"client_id": 12, TOOL_CONFIGURATION: {"deployment_id": 3}}, "12", "3"),
        ({"client_id": "abc"}, "abc", None),
        ({"client_id": ""}, RegistrationResponseInvalid, None),
        ([], RegistrationResponseInvalid, None),
    ],
)
def test_parse_registration_answer(answer: Any, client_id: Any, deployment_id: str | None):
    if isinstance(client_id, type):
        with pytest.raises(client_id):
            parse_registration_answer(answer)
        return
    parsed = parse_registration_answer(answer)
    assert (parsed.client_id, parsed.deployment_id) == (client_id, deployment_id)


@pytest.mark.parametrize(
    ("mutation", "detail"),
    [
        (
            lambda body: body.update(token_endpoint_auth_method="client_secret_basic"),
            "invalid_token_endpoint_auth_method",
        ),
        (lambda body: body[TOOL_CONFIGURATION].update(domain="cbsi.example"), "domain_targetlinkuri_mismatch"),
    ],
)
def test_simulated_moodle_enforces_its_rules(
    client: FlaskClient,
    services: Services,
    moodle: SimulatedMoodle,
    monkeypatch: pytest.MonkeyPatch,
    mutation: Any,
    detail: str,
):
    """The simulator is strict: a registration breaking Moodle's rules is refused (so passing means something)."""
    from lti_tool.lti import registration

    original = registration.build_tool_registration

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        body = original(*args, **kwargs)
        mutation(body)
        return body

    monkeypatch.setattr(registration, "build_tool_registration", broken)
    response = client.get(register_url(moodle.configuration_url))
    page = response.get_data(as_text=True)
    assert response.status_code == 502 and "registration_refused" in page and detail in page
    assert platforms(services) == []


@pytest.mark.parametrize(
    ("url", "local_ok", "error"),
    [
        ("https://moodle.academy.example/c", False, None),
        ("https://10.0.0.5/c", False, HostRefused),
        ("https://192.168.1.10/c", False, HostRefused),
        ("https://127.0.0.1/c", False, HostRefused),
        ("https://[::1]/c", False, HostRefused),
        ("https://169.254.169.254/latest/meta-data", False, HostRefused),  # cloud metadata service
        ("https://localhost/c", False, HostRefused),
        ("http://127.0.0.1:8080/c", True, None),  # demo/test mode only
        ("http://10.0.0.5/c", True, IssuerNotSecure),  # plain http only for loopback, even in demo mode
        ("ftp://moodle.academy.example/c", False, IssuerNotSecure),
    ],
)
def test_check_secure_url(url: str, local_ok: bool, error: type[Exception] | None):
    if error is None:
        check_secure_url(url, what="configuration URL", allow_insecure_localhost=local_ok)
        return
    with pytest.raises(error) as err:
        check_secure_url(url, what="configuration URL", allow_insecure_localhost=local_ok)
    assert err.value.code in {"host_refused", "issuer_not_https"}  # type: ignore[attr-defined]


def test_oversized_configuration_is_refused(
    client: FlaskClient, services: Services, moodle: SimulatedMoodle, fake_server: FakeServer
):
    doc = moodle.document()
    doc["padding"] = "x" * (300 * 1024)
    fake_server.route("GET", "/mod/lti/openid-configuration.php", lambda rec: json_reply(200, doc))
    response = client.get(register_url(moodle.configuration_url))
    assert response.status_code == 502 and "too large" in response.get_data(as_text=True)
    assert platforms(services) == []


def test_redirects_are_not_followed(
    client: FlaskClient, services: Services, moodle: SimulatedMoodle, fake_server: FakeServer
):
    fake_server.route(
        "GET", "/mod/lti/openid-configuration.php", lambda rec: (302, {"Location": "http://169.254.169.254/"}, b"")
    )
    response = client.get(register_url(moodle.configuration_url))
    assert response.status_code == 502 and "HTTP 302" in response.get_data(as_text=True)
