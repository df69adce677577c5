"""Property-based fuzzing of every endpoint that reads a body: hostile input never gets a 5xx (issue 12, item 4).

The endpoints are enumerated from the app's ``url_map`` (every rule accepting POST, PUT,
PATCH or DELETE), so a new endpoint is fuzzed without editing this file. Each gets JSON
documents (deep, huge numbers, NaN, wrong types, the fields the endpoints read), form fields,
raw bytes and bodies in every content type the service meets, with and without valid
credentials (a real attempt's runtime token, a development platform access token), so the
authorised code paths are reached too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lti_tool.web import devplatform

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


raw_bodies = st.one_of(
    json_objects().map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda d: json.dumps(d).encode()),
    st.integers(min_value=1, max_value=100_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=100_000).map(_deep),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
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
def fuzz_client(
    app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]
) -> FlaskClient:
    config = player_config(make_launch(SEQUENCED))
    CREDS.runtime_token = config["token"]
    CREDS.attempt_id = config["attemptId"]
    CREDS.item_id = config["current"]
    app.config["CBSI_DEV_PLATFORM"] = True
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production: the error handlers run
    with app.app_context():
        CREDS.dev_token = devplatform.state().tokens.dumps({"scopes": list(devplatform.ALLOWED_SCOPES), "n": "fuzz"})
    return app.test_client()


def test_every_body_endpoint_is_enumerated(app: Flask) -> None:
    """The fuzzer's target list comes from the url_map and holds the endpoints issue 12 names."""
    endpoints = {endpoint for endpoint, _, _ in _targets(app)}
    assert {"player.commit", "player.navigate", "player.reopen_post", "lti.launch", "lti.login"} <= endpoints
    assert {"admin.login", "admin.upload", "lti_adv.picker_respond", "devplatform.scores"} <= endpoints
    assert len(endpoints) >= 15


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
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
        response = fuzz_client.open(path, method=method, data=body, headers=headers, content_type=content_type)
        assert response.status_code < 500, (endpoint, method, body[:200], content_type, auth, response.data[:300])
        assert b"Traceback" not in response.data
