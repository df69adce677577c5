"""Property-based fuzzing of every endpoint that reads a body: hostile input never gets a 5xx (issue 12, item 4).

The endpoints are enumerated from the app's ``url_map`` (every rule accepting POST, PUT,
PATCH or DELETE), so a new endpoint is fuzzed without editing this file. Each gets JSON
documents (deep, huge numbers, NaN, wrong types, the fields the endpoints read), form fields,
raw bytes and bodies in every content type the service meets, with and without valid
credentials (a real attempt's runtime token, a development platform access token), so the
authorised code paths are reached too.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool import devlms
from lti_tool.devlms.web import ALLOWED_SCOPES
from lti_tool.services import Services

BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
FIELDS = [
    "seq", "id", "changes", "terminate", "asset_completed", "token", "session", "request", "target", "from",
    "id_token", "state", "JWT", "csrf_token", "username", "password", "course", "dl_token", "lti_storage_proof",
    "iss", "login_hint", "target_link_uri", "lti_message_hint", "client_id", "lti_deployment_id", "error",
    "label", "scoreMaximum", "resourceLinkId", "userId", "timestamp", "scoreGiven", "activityProgress",
    "gradingProgress", "grant_type", "client_assertion", "client_assertion_type", "scope", "q", "query",
]  # fmt: skip
CONTENT_TYPES = [
    "application/json",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=cbsi",
    "application/vnd.ims.lis.v1.score+json",
    "application/vnd.ims.lis.v2.lineitem+json",
    "application/octet-stream",
    None,
]
SEQUENCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"  # several SCOs: navigation
NAV_REQUESTS = ["continue", "previous", "choice", "jump", "exit", "exitAll", "suspendAll", "abandon", "abandonAll"]


class Credentials:
    """Real credentials the fuzzer may present (filled by the fixture)."""

    runtime_token = ""
    attempt_id = ""
    item_id = ""
    dev_token = ""
    login_state = ""


CREDS = Credentials()

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
    st.integers(min_value=2**63 - 2, max_value=2**64 + 2),
    st.just(10**400),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, st.text(max_size=40))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner),
    max_leaves=12,
)
tokens = st.sampled_from(["runtime", "dev", "junk", "empty"])


def _token(kind: str) -> str:
    return {"runtime": CREDS.runtime_token, "dev": CREDS.dev_token, "junk": "x.y.z", "empty": ""}[kind]


@st.composite
def json_objects(draw: st.DrawFn) -> Any:
    """Objects shaped like the service's requests, with hostile values."""
    doc = draw(st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6))
    if draw(st.booleans()):
        doc["seq"] = draw(numbers | st.integers(min_value=1, max_value=50))
    if draw(st.booleans()):
        doc["token"] = _token(draw(tokens))
    if draw(st.booleans()):
        doc["request"] = draw(st.sampled_from(NAV_REQUESTS) | st.text(max_size=20))
        doc["target"] = draw(st.sampled_from([CREDS.item_id, None, "nope"]) | json_values)
    if draw(st.booleans()):
        doc["changes"] = draw(
            st.dictionaries(
                st.sampled_from(["cmi.core.lesson_location", "cmi.suspend_data", "cmi.location", "cmi.score.raw"])
                | st.text(max_size=30),
                scalars,
                max_size=4,
            )
        )
    return doc


def _deep(n: int) -> bytes:
    return b'{"seq":1,"changes":' * 1 + b"[" * n + b"]" * n + b"}"


# nesting depths: harmless, at the reader's bound, past the interpreter's recursion limit, and huge
depths = st.sampled_from([1, 31, 33, 1_500, 100_000]) | st.integers(min_value=1, max_value=100_000)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


jwt_parts = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    depths.map(lambda n: b"[" * n + b"]" * n),
    st.binary(max_size=60),
)
jwts = st.tuples(jwt_parts, jwt_parts, st.binary(max_size=40)).map(lambda p: ".".join(_b64(x) for x in p))


@st.composite
def forms(draw: st.DrawFn) -> dict[str, str]:
    """Form fields: the JWT-carrying ones of the LTI and dev-platform endpoints, a real login state."""
    form = {name: draw(jwts | st.text(max_size=30)) for name in ("id_token", "JWT", "client_assertion", "dl_token")}
    form["state"] = draw(st.sampled_from([CREDS.login_state, "junk"]))
    form["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    form["grant_type"] = draw(st.sampled_from(["client_credentials", "x"]))
    form["token"] = _token(draw(tokens))
    extra = draw(st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), st.text(max_size=60), max_size=6))
    return {**form, **extra}


raw_bodies = st.one_of(
    json_objects().map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda d: json.dumps(d).encode()),
    depths.map(lambda n: b"[" * n + b"]" * n),
    depths.map(_deep),
    depths.map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.sampled_from([b'{"seq": 1e999}', b'{"seq": NaN}', b'{"seq": -Infinity}', b'{"seq": ' + b"9" * 5000 + b"}"]),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), st.text(max_size=60), max_size=6).map(
        lambda d: urlencode(d).encode()
    ),
    st.binary(max_size=300),
    st.just(b""),
)


def _targets(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) of every rule that accepts a body, with real ids in the URL."""
    values = {"attempt_id": CREDS.attempt_id, "item_id": CREDS.item_id}
    out = []
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) & BODY_METHODS):
            args = {}
            for name in rule.arguments:
                args[name] = 1 if f"<int:{name}>" in rule.rule else values.get(name, "fuzz")
            _, path = rule.build(args, append_unknown=False)
            out.append((rule.endpoint, method, path))
    return out


@pytest.fixture
def dev_lms(app: Flask, services: Services) -> devlms.DevLms:
    """The development LMS on the test app (before its first request), so its endpoints are fuzzed too."""
    return devlms.install(app, services)


@pytest.fixture
def fuzz_client(
    dev_lms: devlms.DevLms, app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]
) -> FlaskClient:
    config = player_config(make_launch(SEQUENCED))
    CREDS.runtime_token = config["token"]
    CREDS.attempt_id = config["attemptId"]
    CREDS.item_id = config["current"]
    client = app.test_client()  # keeps the login's state cookie
    login = client.post(
        "/lti/login",
        data={"iss": "https://lms.example", "client_id": "client-1", "login_hint": "u1",
              "target_link_uri": "http://localhost/lti/launch"},
    )  # fmt: skip
    assert login.status_code == 302, login.data[:300]
    CREDS.login_state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production: the error handlers run
    CREDS.dev_token = dev_lms.tokens.dumps({"scopes": list(ALLOWED_SCOPES), "n": "fuzz"})
    return client


def test_every_body_endpoint_is_enumerated(app: Flask, dev_lms: devlms.DevLms) -> None:
    """The fuzzer's target list comes from the url_map and holds the endpoints issue 12 names."""
    endpoints = {endpoint for endpoint, _, _ in _targets(app)}
    assert {"player.commit", "player.navigate", "player.reopen_post", "lti.launch", "lti.login"} <= endpoints
    assert {"admin.login", "admin.upload", "lti_adv.picker_respond", "devplatform.scores"} <= endpoints
    assert len(endpoints) >= 15


def _send(client: FlaskClient, path: str, **kwargs: Any) -> tuple[int, bytes]:
    """One request; its response and the body stream the test client built are closed at once
    (Werkzeug spools a large multipart body to an anonymous temporary file it never closes, and
    the garbage collector would report it during some later test)."""
    response = client.open(path, **kwargs)
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()
        body = response.request.environ.get("wsgi.input")
        if body is not None:
            body.close()


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


@SETTINGS
@given(
    body=raw_bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    auth=st.sampled_from(["runtime", "dev", "junk", None]),
)
def test_no_body_gets_a_server_error(
    fuzz_client: FlaskClient, body: bytes, content_type: str | None, auth: str | None
) -> None:
    """Each example goes to every endpoint, so every endpoint meets every generated body."""
    headers = {"Authorization": f"Bearer {_token(auth)}"} if auth else {}
    for endpoint, method, path in _targets(fuzz_client.application):
        status, data = _send(fuzz_client, path, method=method, data=body, headers=headers, content_type=content_type)
        assert status < 500, (endpoint, method, body[:200], content_type, auth, data[:300])
        assert b"Traceback" not in data


@SETTINGS
@given(form=forms(), multipart=st.booleans(), auth=st.sampled_from(["runtime", "dev", "junk", None]))
def test_no_form_gets_a_server_error(
    fuzz_client: FlaskClient, form: dict[str, str], multipart: bool, auth: str | None
) -> None:
    """Form posts (url-encoded or multipart) to every endpoint, JWT fields hostile, with a live login state."""
    headers = {"Authorization": f"Bearer {_token(auth)}"} if auth else {}
    content_type = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
    for endpoint, method, path in _targets(fuzz_client.application):
        status, data = _send(fuzz_client, path, method=method, data=form, headers=headers, content_type=content_type)
        assert status < 500, (endpoint, method, str(form)[:300], content_type, auth, data[:300])
        assert b"Traceback" not in data
