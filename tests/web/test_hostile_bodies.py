"""Hostile JSON bodies on the runtime API: 400/413 with a code, never a 500 (issue 12, item 4)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.services import services_of
from lti_tool.web.bodies import nesting_depth

SEQUENCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"
DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def runtime(app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]) -> dict:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production
    config = player_config(make_launch(SEQUENCED))
    assert config["navUrl"] and config["runtime"]
    return config


def _post(client: FlaskClient, url: str, data: bytes, token: str | None = None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(url, data=data, headers=headers, content_type=kw.pop("content_type", "application/json"), **kw)


@pytest.mark.parametrize("which", ["commit", "nav"])
def test_deep_nesting_without_a_token_is_refused_not_a_500(client: FlaskClient, runtime: dict, which: str) -> None:
    url = runtime["runtime"]["commitUrl"] if which == "commit" else runtime["navUrl"]
    # no token at all: the body is read (a beacon would carry its token there), bounded
    response = _post(client, url, DEEP)
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_commit"
    assert "deeper than" in response.get_json()["message"]
    # a refused bearer token is answered before the body is read
    response = _post(client, url, DEEP, token="not-a-token")
    assert response.status_code == 401
    assert response.get_json()["error"] == "runtime_token_refused"
    # with a valid token: still a clean 400
    response = _post(client, url, DEEP, token=runtime["token"])
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid_commit")


def test_deep_nesting_inside_a_beacon_with_its_token(client: FlaskClient, runtime: dict) -> None:
    rt = runtime["runtime"]
    body = b'{"seq": 1, "token": "' + rt["token"].encode() + b'", "changes": ' + DEEP + b"}"
    response = _post(client, rt["commitUrl"], body, content_type="text/plain;charset=UTF-8")
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid_commit")


@pytest.mark.parametrize(
    "seq", ["99999999999999999999999999999999", str(2**63), str(2**53), str(2**31), "1e999", "NaN", "-Infinity"]
)
def test_a_huge_or_non_finite_seq_is_refused(client: FlaskClient, runtime: dict, seq: str) -> None:
    rt = runtime["runtime"]
    body = b'{"seq": ' + seq.encode() + b', "changes": {"cmi.location": "2"}}'
    response = _post(client, rt["commitUrl"], body, token=rt["token"])
    assert response.status_code == 400, response.data
    assert response.get_json()["error"] == "invalid_commit"
    # nothing was stored: the next real commit is seq 1
    ok = _post(client, rt["commitUrl"], json.dumps({"seq": 1}).encode(), token=rt["token"])
    assert ok.status_code == 200 and ok.get_json()["seq"] == 1


def test_the_largest_seq_still_works(client: FlaskClient, runtime: dict) -> None:
    rt = runtime["runtime"]
    response = _post(client, rt["commitUrl"], json.dumps({"seq": 2**31 - 1}).encode(), token=rt["token"])
    assert response.status_code == 200 and response.get_json()["seq"] == 2**31 - 1


def test_a_chunked_body_over_the_limit_is_413(app: Flask, client: FlaskClient, runtime: dict) -> None:
    rt = runtime["runtime"]
    limit = services_of(app).settings.player.commit_max_bytes
    for size in (limit + 1, 10 * 1024 * 1024):
        body = b'{"seq": 1, "changes": {"cmi.suspend_data": "' + b"x" * size + b'"}}'
        response = client.post(
            rt["commitUrl"],
            input_stream=io.BytesIO(body),
            headers={"Authorization": f"Bearer {rt['token']}", "Transfer-Encoding": "chunked"},
            content_type="application/json",
            environ_overrides={"wsgi.input_terminated": True},  # what werkzeug and gunicorn set for chunked
        )
        assert response.status_code == 413, response.data[:200]
        assert response.get_json()["error"] == "commit_too_large"
    # a chunked body within the limit is read whole
    small = json.dumps({"seq": 1, "changes": {"cmi.suspend_data": "y" * (limit - 200)}}).encode()
    response = client.post(
        rt["commitUrl"],
        input_stream=io.BytesIO(small),
        headers={"Authorization": f"Bearer {rt['token']}", "Transfer-Encoding": "chunked"},
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 200, response.data[:300]


def test_non_object_and_non_utf8_bodies(client: FlaskClient, runtime: dict) -> None:
    rt = runtime["runtime"]
    for body in (b"[1, 2]", b'"seq"', b"\xff\xfe{", b"{not json"):
        response = _post(client, rt["commitUrl"], body, token=rt["token"])
        assert (response.status_code, response.get_json()["error"]) == (400, "invalid_commit"), body


def test_depth_of_parsed_values() -> None:
    assert nesting_depth(json.loads('{"a": "[[[[[[[[[[{{{{{{{{"}')) == 1  # brackets in strings do not count
    assert nesting_depth([[[]]]) == 3
    assert nesting_depth({"a": [{"b": []}]}) == 4
    assert nesting_depth(1) == 0
    assert nesting_depth(json.loads("[" * 900 + "]" * 900)) == 900  # no recursion in the walk


@pytest.mark.parametrize("depth", [33, 900, 2_000])
def test_depth_just_past_the_bound_and_past_the_recursion_limit(client: FlaskClient, runtime: dict, depth: int) -> None:
    rt = runtime["runtime"]
    body = b'{"seq": 1, "changes": {}, "x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"
    response = _post(client, rt["commitUrl"], body, token=rt["token"])
    assert (response.status_code, response.get_json()["error"]) == (400, "invalid_commit")
    assert "deeper than 32" in response.get_json()["message"]
    ok = b'{"seq": 1, "changes": {"cmi.suspend_data": "' + b"[{" * 5000 + b'"}, "x": ' + b"[" * 31 + b"]" * 31 + b"}"
    assert _post(client, rt["commitUrl"], ok, token=rt["token"]).status_code == 200  # depth 32 exactly


def test_a_deeply_nested_id_token_after_a_real_login_is_refused(
    app: Flask, client: FlaskClient, platform_id: int
) -> None:
    """Anyone can start a login for a registered LMS; the launch's JWT parts are JSON too."""
    import base64
    from urllib.parse import parse_qs, urlsplit

    app.config["PROPAGATE_EXCEPTIONS"] = False
    login = client.post(
        "/lti/login",
        data={
            "iss": "https://lms.example",
            "client_id": "client-1",
            "login_hint": "u1",
            "target_link_uri": "http://localhost/lti/launch",
        },
    )
    assert login.status_code == 302, login.data[:300]
    state = parse_qs(urlsplit(login.headers["Location"]).query)["state"][0]

    def b64(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    for header, payload in ((b'{"alg":"RS256"}', DEEP), (DEEP, b"{}")):
        token = f"{b64(header)}.{b64(payload)}.{b64(b'sig')}"
        response = client.post("/lti/launch", data={"id_token": token, "state": state})
        assert response.status_code == 400, response.data[:300]
        assert b"Traceback" not in response.data
