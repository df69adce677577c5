"""Certification-style launch validation: every bad payload has its own code and status, every
valid variant is accepted, replays and key rotation behave, no stack trace reaches the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lti_helpers import (
    CLIENT_ID,
    ISSUER,
    JSON,
    JWKS_URL,
    Peer,
    cached_key,
    claims_for,
    login,
    post_launch,
    public_pem,
)

from lti_tool.lti import platforms
from lti_tool.services import services_of

NOW = lambda: int(time.time())  # noqa: E731


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def hs256_with_public_key(peer: Peer, nonce: str) -> str:
    """The classic key-confusion attack: HMAC-sign with the platform's public key as the secret."""
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    body = _b64(claims_for(nonce))
    sig = hmac.new(public_pem(peer.keys["k1"]), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def alg_none(peer: Peer, nonce: str) -> str:
    return f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims_for(nonce))}."


def alg_none_with_sig(peer: Peer, nonce: str) -> str:
    return f"{_b64({'alg': 'none', 'kid': 'k1'})}.{_b64(claims_for(nonce))}.c2ln"


def no_kid(peer: Peer, nonce: str) -> str:
    return jwt.encode(claims_for(nonce), peer.keys["k1"], algorithm="RS256")


def wrong_kid(peer: Peer, nonce: str) -> str:
    return jwt.encode(claims_for(nonce), peer.keys["k1"], algorithm="RS256", headers={"kid": "not-published"})


def other_key_same_kid(peer: Peer, nonce: str) -> str:
    return jwt.encode(claims_for(nonce), cached_key("attacker"), algorithm="RS256", headers={"kid": "k1"})


def rs512(peer: Peer, nonce: str) -> str:
    return jwt.encode(claims_for(nonce), peer.keys["k1"], algorithm="RS512", headers={"kid": "k1"})


def signed(**changes: Any) -> Callable[[Peer, str], str]:
    """Sign at test time; callable values (times) are resolved then, not at collection."""
    return lambda peer, nonce: peer.sign(
        claims_for(nonce, **{k: (v() if callable(v) else v) for k, v in changes.items()})
    )


BAD: list[tuple[str, Callable[[Peer, str], str], str, int]] = [
    ("not a jwt: 2 parts", lambda p, n: "abc.def", "not_a_jwt", 400),
    ("not a jwt: garbage parts", lambda p, n: "a.b.c", "not_a_jwt", 400),
    (
        "not a jwt: json array header",
        lambda p, n: f"{base64.urlsafe_b64encode(b'[1]').decode()}.e30.sig",
        "not_a_jwt",
        400,
    ),
    ("no kid", no_kid, "missing_kid", 401),
    ("wrong kid", wrong_kid, "unknown_kid", 401),
    ("alg none", alg_none, "unsupported_alg", 401),
    ("alg none with signature", alg_none_with_sig, "unsupported_alg", 401),
    ("HS256 with the public key as secret", hs256_with_public_key, "unsupported_alg", 401),
    ("RS512", rs512, "unsupported_alg", 401),
    ("signed by another key", other_key_same_kid, "bad_signature", 401),
    ("missing iss", signed(iss=...), "missing_iss", 400),
    ("iss differs from the login's", signed(iss="https://other.example.org"), "issuer_mismatch", 401),
    ("missing aud", signed(aud=...), "missing_aud", 400),
    ("wrong aud", signed(aud="someone-else", azp=...), "wrong_audience", 401),
    ("extra untrusted aud", signed(aud=[CLIENT_ID, "evil-client"]), "untrusted_audience", 401),
    ("azp mismatch", signed(azp="evil-client"), "azp_mismatch", 401),
    ("missing exp", signed(exp=...), "missing_exp", 400),
    ("missing iat", signed(iat=...), "missing_iat", 400),
    ("expired beyond leeway", signed(exp=lambda: NOW() - 61, iat=lambda: NOW() - 400), "token_expired", 401),
    ("iat in the future", signed(iat=lambda: NOW() + 120, exp=lambda: NOW() + 400), "iat_in_future", 401),
    ("nbf in the future", signed(nbf=lambda: NOW() + 120), "not_yet_valid", 401),
    ("missing nonce", signed(nonce=...), "missing_nonce", 401),
    ("wrong nonce", signed(nonce="another-nonce"), "nonce_mismatch", 401),
    ("missing version", signed(lti_version=...), "missing_version", 400),
    ("wrong version", signed(lti_version="1.2.0"), "wrong_version", 400),
    ("LTI 1.1 style version", signed(lti_version="LTI-1p0"), "wrong_version", 400),
    ("missing deployment_id", signed(lti_deployment_id=...), "missing_deployment_id", 400),
    ("unknown deployment_id", signed(lti_deployment_id="dep-unknown"), "unknown_deployment", 403),
    ("missing message_type", signed(lti_message_type=...), "missing_message_type", 400),
    ("unsupported message_type", signed(lti_message_type="LtiStrangeRequest"), "unsupported_message_type", 400),
    ("missing resource_link", signed(lti_resource_link=...), "missing_resource_link_id", 400),
    ("missing resource_link.id", signed(lti_resource_link={"title": "x"}), "missing_resource_link_id", 400),
    ("missing roles", signed(lti_roles=...), "missing_roles", 400),
    ("roles not a list", signed(lti_roles="Instructor"), "invalid_roles", 400),
    ("missing sub", signed(sub=...), "missing_sub", 400),
    ("empty sub", signed(sub=""), "missing_sub", 400),
    ("missing target_link_uri", signed(lti_target_link_uri=...), "missing_target_link_uri", 400),
    ("target_link_uri mismatch", signed(lti_target_link_uri="http://localhost/other"), "target_link_uri_mismatch", 401),
]


def assert_clean_error(response: Any, code: str, status: int) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert response.get_json()["error"] == code, body
    assert "Traceback" not in body and 'File "' not in body


@pytest.mark.parametrize(("name", "make", "code", "status"), BAD, ids=[b[0] for b in BAD])
def test_bad_payload_rejected_with_its_code(client: FlaskClient, peer: Peer, name: str, make, code: str, status: int):
    state, nonce, _ = login(client)
    response = post_launch(client, make(peer, nonce), state)
    assert_clean_error(response, code, status)


@pytest.mark.parametrize(("name", "make", "code", "status"), BAD[:6], ids=[b[0] for b in BAD[:6]])
def test_bad_payload_html_page_has_code_and_no_trace(client, peer, name, make, code, status):
    state, nonce, _ = login(client)
    response = client.post("/lti/launch", data={"id_token": make(peer, nonce), "state": state})
    body = response.get_data(as_text=True)
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert f"<code>{code}</code>" in body
    assert "Traceback" not in body


def test_unknown_deployment_tells_the_admin_the_command(client, peer):
    state, nonce, _ = login(client)
    response = post_launch(client, peer.sign(claims_for(nonce, lti_deployment_id="dep-77")), state)
    assert f"cbsi-connect platforms add-deployment {peer.platform.id} dep-77" in response.get_json()["message"]


def test_failed_launch_does_not_burn_the_state(client, peer):
    """A rejected token leaves the login usable (the nonce is consumed only on success)."""
    state, nonce, _ = login(client)
    assert post_launch(client, peer.sign(claims_for(nonce, sub=...)), state).status_code == 400
    assert post_launch(client, peer.sign(claims_for(nonce)), state).status_code == 303


MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"

VALID: list[tuple[str, dict[str, Any], str]] = [
    ("full learner", {}, "/home/"),
    ("short role Instructor", {"lti_roles": ["Instructor"]}, "/class/"),
    ("short role Learner", {"lti_roles": ["Learner"]}, "/home/"),
    ("unknown roles", {"lti_roles": ["urn:example:role#Wizard", "Dragon"]}, "/home/"),
    ("empty roles array", {"lti_roles": []}, "/home/"),
    ("TA sub-role", {"lti_roles": [MEMBERSHIP + "Instructor#TeachingAssistant"]}, "/class/"),
    (
        "administrator",
        {"lti_roles": ["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"]},
        "/class/",
    ),
    ("no PII", {"name": ..., "email": ...}, "/home/"),
    ("names only", {"email": ..., "given_name": "Ana", "family_name": "Learner"}, "/home/"),
    ("email only", {"name": ...}, "/home/"),
    ("aud as array of one", {"aud": [CLIENT_ID]}, "/home/"),
    ("no azp with single aud", {"azp": ...}, "/home/"),
    ("no context claim", {"lti_context": ...}, "/home/"),
    # times are computed when the test runs (lambdas), not when the module is collected
    ("expired within leeway", {"exp": lambda: NOW() - 30, "iat": lambda: NOW() - 330}, "/home/"),
    ("iat slightly ahead within leeway", {"iat": lambda: NOW() + 30}, "/home/"),
    ("custom claims", {"lti_custom": {"package": "fractions-1"}}, "/home/"),
]


@pytest.mark.parametrize(("name", "changes", "target"), VALID, ids=[v[0] for v in VALID])
def test_valid_variants_are_accepted(client, peer, name, changes, target):
    changes = {k: (v() if callable(v) else v) for k, v in changes.items()}
    state, nonce, _ = login(client)
    response = post_launch(client, peer.sign(claims_for(nonce, **changes)), state)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(target)
    page = client.get(location)
    body = page.get_data(as_text=True)
    # learner launches here carry no catalogue course: they open the learner home (issue 15)
    assert page.status_code == 200
    if target == "/home/":
        assert "Your courses" in body
    assert "Traceback" not in body


def test_multiple_trusted_audiences_need_azp(client, peer, services):
    platforms.add_platform(
        services.db,
        issuer=ISSUER,
        client_id="tool-client-2",
        auth_login_url=ISSUER + "/auth",
        auth_token_url=ISSUER + "/token",
        key_set_url=JWKS_URL,
        approve=True,
    )
    state, nonce, _ = login(client)
    both = [CLIENT_ID, "tool-client-2"]
    assert_clean_error(post_launch(client, peer.sign(claims_for(nonce, aud=both, azp=...)), state), "missing_azp", 401)
    assert post_launch(client, peer.sign(claims_for(nonce, aud=both)), state).status_code == 303


# -- replays ------------------------------------------------------------------------------------


def test_replayed_launch_fails_even_in_the_same_browser(client, peer):
    state, nonce, _ = login(client)
    token = peer.sign(claims_for(nonce))
    assert post_launch(client, token, state).status_code == 303
    client.set_cookie("lti_state_" + state, state, path="/lti/", secure=True)  # the browser still holds it
    assert_clean_error(post_launch(client, token, state), "launch_replayed", 401)


def test_replayed_id_token_with_a_new_login_fails(client, peer):
    state, nonce, _ = login(client)
    token = peer.sign(claims_for(nonce))
    assert post_launch(client, token, state).status_code == 303
    state2, _nonce2, _ = login(client)
    assert_clean_error(post_launch(client, token, state2), "nonce_mismatch", 401)


def test_consumption_is_atomic(app: Flask, client, peer):
    """The storage refuses a second consumption even after validation passed twice."""
    from lti_tool.lti.validation import LaunchReplayed

    svc = services_of(app).lti
    state, nonce, _ = login(client)
    token = peer.sign(claims_for(nonce))
    first, login_a = svc.validate(token, state)
    second, login_b = svc.validate(token, state)
    svc.complete(first, login_a)
    with pytest.raises(LaunchReplayed):
        svc.complete(second, login_b)


def test_unknown_state(client, peer):
    _state, nonce, _ = login(client)
    assert_clean_error(post_launch(client, peer.sign(claims_for(nonce)), "no-such-state"), "unknown_state", 401)


def test_expired_state(app, client, peer):
    from datetime import timedelta

    from lti_tool.storage.models import utcnow

    state, nonce, _ = login(client)
    services_of(app).lti.clock = lambda: utcnow() + timedelta(seconds=601)
    assert_clean_error(post_launch(client, peer.sign(claims_for(nonce)), state), "state_expired", 401)


def test_missing_launch_parameters(client, peer):
    assert_clean_error(client.post("/lti/launch", data={"state": "x"}, headers=JSON), "missing_launch_parameter", 400)


def test_platform_error_answer_is_shown(client, peer):
    response = client.post(
        "/lti/launch", data={"error": "login_required", "error_description": "no session", "state": "x"}, headers=JSON
    )
    assert_clean_error(response, "platform_auth_error", 400)
    assert "login_required" in response.get_json()["message"]


# -- tenant status ------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [("disabled", "platform_disabled"), ("pending", "platform_pending")])
def test_inactive_platform_refused_at_launch(client, peer, services, status, code):
    from lti_tool.storage.models import PlatformStatus

    state, nonce, _ = login(client)
    platforms.set_status(services.db, peer.platform.id, PlatformStatus(status))
    assert_clean_error(post_launch(client, peer.sign(claims_for(nonce)), state), code, 403)


@pytest.mark.parametrize(("status", "code"), [("disabled", "platform_disabled"), ("pending", "platform_pending")])
def test_inactive_platform_refused_at_login(client, peer, services, status, code):
    from lti_tool.storage.models import PlatformStatus

    platforms.set_status(services.db, peer.platform.id, PlatformStatus(status))
    _s, _n, response = login(client)
    response = client.get(response.request.full_path, headers=JSON)
    assert_clean_error(response, code, 403)


# -- platform keys: cache, rotation, rate-limited refetch -----------------------------------------


def test_keys_cached_between_launches(client, peer):
    for _ in range(3):
        state, nonce, _ = login(client)
        assert post_launch(client, peer.sign(claims_for(nonce)), state).status_code == 303
    assert peer.fetches == 1


def test_rotation_refetches_once_then_rate_limits(app, client, peer):
    clock = [1000.0]
    cache = services_of(app).lti.key_cache
    cache.clock = lambda: clock[0]
    state, nonce, _ = login(client)
    assert post_launch(client, peer.sign(claims_for(nonce)), state).status_code == 303
    assert peer.fetches == 1
    # The platform rotates to k2; a launch signed with k2 triggers exactly one refetch.
    clock[0] += 31
    peer.keys["k2"] = cached_key("k2")
    peer.published = ["k2"]
    state, nonce, _ = login(client)
    assert post_launch(client, peer.sign(claims_for(nonce), kid="k2"), state).status_code == 303
    assert peer.fetches == 2
    # Another unknown kid within the refetch interval: refused without fetching again.
    peer.keys["k3"] = cached_key("k3")
    clock[0] += 5
    state, nonce, _ = login(client)
    assert_clean_error(post_launch(client, peer.sign(claims_for(nonce), kid="k3"), state), "unknown_kid", 401)
    assert peer.fetches == 2
    # After the interval, the same kid is looked up again (once).
    peer.published = ["k2", "k3"]
    clock[0] += 30
    state, nonce, _ = login(client)
    assert post_launch(client, peer.sign(claims_for(nonce), kid="k3"), state).status_code == 303
    assert peer.fetches == 3


def test_keys_refetched_after_ttl(app, client, peer):
    clock = [0.0]
    cache = services_of(app).lti.key_cache
    cache.clock = lambda: clock[0]
    for step in (0, 10, 3601):
        clock[0] += step
        state, nonce, _ = login(client)
        assert post_launch(client, peer.sign(claims_for(nonce)), state).status_code == 303
    assert peer.fetches == 2


def test_jwks_unavailable(app, client, peer):
    from lti_tool.lti.jwks import JwksUnavailable

    def broken(url: str, timeout: float):
        raise JwksUnavailable("the LMS key set could not be reached")

    services_of(app).lti.key_cache.fetch = broken
    state, nonce, _ = login(client)
    assert_clean_error(post_launch(client, peer.sign(claims_for(nonce)), state), "jwks_unavailable", 502)


# -- state cookie missing: fallbacks --------------------------------------------------------------


def test_missing_state_cookie_offers_new_window_relaunch(client, peer):
    state, nonce, _ = login(client)
    client.delete_cookie("lti_state_" + state, path="/lti/")
    token = peer.sign(claims_for(nonce))
    response = client.post("/lti/launch", data={"id_token": token, "state": state})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-code="state_cookie_missing"' in body
    assert 'target="_blank"' in body and "/lti/login?iss=" in body
    assert "lti_message_hint=hint-abc" in body and "login_hint=user-7" in body
    assert "lti.get_data" not in body
    # the login was not consumed by the fallback: with the cookie back it completes
    client.set_cookie("lti_state_" + state, state, path="/lti/", secure=True)
    assert post_launch(client, token, state).status_code == 303


def test_missing_state_cookie_uses_platform_storage(app, client, peer):
    state, nonce, response = login(client, lti_storage_target="_parent")
    assert response.status_code == 200  # the intermediate page that stores the state
    page = response.get_data(as_text=True)
    assert "lti.put_data" in page and "https://lms.example.org" in page
    assert response.headers.get("Set-Cookie", "").startswith("lti_state_")
    next_url = json.loads(page.split("var next = ")[1].split(";")[0])
    query = parse_qs(urlsplit(next_url).query)
    state, nonce = query["state"][0], query["nonce"][0]
    assert query["redirect_uri"] == ["http://localhost/lti/launch"]
    client.delete_cookie("lti_state_" + state, path="/lti/")
    token = peer.sign(claims_for(nonce))
    fallback = client.post("/lti/launch", data={"id_token": token, "state": state})
    assert fallback.status_code == 200 and "lti.get_data" in fallback.get_data(as_text=True)
    wrong = client.post("/lti/launch", data={"id_token": token, "state": state, "lti_storage_proof": "forged"})
    assert wrong.status_code == 200 and "state_cookie_missing" in wrong.get_data(as_text=True)
    proof = services_of(app).lti.storage_value(state)
    assert proof in page  # the value the login page put in the platform storage
    ok = client.post("/lti/launch", data={"id_token": token, "state": state, "lti_storage_proof": proof})
    assert ok.status_code == 303


# -- deep linking claims (the handler comes from the ltiadv branch) ------------------------------


def test_message_type_without_handler_is_unsupported(client, peer, app):
    services_of(app).launch_handlers.unregister("LtiDeepLinkingRequest")
    state, nonce, _ = login(client)
    token = peer.sign(claims_for(nonce, lti_message_type="LtiDeepLinkingRequest", lti_resource_link=...))
    assert_clean_error(post_launch(client, token, state), "unsupported_message_type", 400)


def test_deep_linking_claims_checked(client, peer, app):
    from lti_tool.lti.context import LaunchPage

    services_of(app).launch_handlers.register(
        "LtiDeepLinkingRequest", lambda launch: LaunchPage("deep linking " + launch.id)
    )
    dl = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
    state, nonce, _ = login(client)
    token = peer.sign(claims_for(nonce, lti_message_type="LtiDeepLinkingRequest", lti_resource_link=...))
    assert_clean_error(post_launch(client, token, state), "missing_deep_linking_settings", 400)
    settings = {"deep_link_return_url": "https://lms.example.org/dl", "accept_types": ["ltiResourceLink"]}
    token = peer.sign(
        claims_for(nonce, lti_message_type="LtiDeepLinkingRequest", lti_resource_link=..., **{dl: settings})
    )
    response = post_launch(client, token, state)
    assert response.status_code == 200 and response.get_data(as_text=True).startswith("deep linking ")
