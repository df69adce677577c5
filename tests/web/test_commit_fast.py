"""The commit fast path (``lti_tool.web.commit_fast``) answers exactly as the Flask route does.

Two learners play the same course; one's requests go through the app as served (the fast path in
front of Flask), the other's straight to the Flask app behind it. Every case sends both the same
request and compares status, headers and body, so the two can never drift; the 200s must not
have entered Flask at all, the refusals must have been answered by it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import event
from werkzeug.test import Client, TestResponse

from lti_tool.lti import platforms
from lti_tool.observability import metrics
from lti_tool.services import Services
from lti_tool.web.commit_fast import CommitFastPath
from lti_tool.web.player import MAX_SEQ

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
SEQUENCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"


class Twins:
    """The fast path's client and learner, the Flask route's, and which requests entered Flask."""

    def __init__(self, app: Flask, fast: dict[str, Any], slow: dict[str, Any]) -> None:
        middleware = app.wsgi_app
        assert isinstance(middleware, CommitFastPath)
        self.flask_app = middleware.flask_app
        self.entered: list[str] = []

        def spy(environ: dict[str, Any], start_response: Any) -> Any:
            self.entered.append(environ["PATH_INFO"])
            return self.flask_app(environ, start_response)

        middleware.flask_app = spy  # type: ignore[assignment]
        self.fast_client = Client(app, TestResponse)
        self.flask_client = Client(self.flask_app, TestResponse)
        self.fast, self.slow = fast, slow

    def send(
        self,
        body: Any,
        *,
        token: Callable[[dict[str, Any]], str | None] = lambda c: c["runtime"]["token"],
        headers: dict[str, str] | None = None,
        query: str = "",
    ) -> tuple[TestResponse, TestResponse, bool]:
        """The same request to both; (fast path's answer, Flask's answer, whether the first entered Flask)."""
        answers = []
        entered = False
        for client, config in ((self.fast_client, self.fast), (self.flask_client, self.slow)):
            sent = {"X-Request-ID": "cmp-1", **(headers or {})}
            bearer = token(config)
            if bearer is not None:
                sent["Authorization"] = f"Bearer {bearer}"
            data = body if isinstance(body, str | bytes) else json.dumps(body)
            before = len(self.entered)
            url = config["runtime"]["commitUrl"] + query
            answers.append(client.post(url, data=data, headers=sent, content_type="application/json"))
            if client is self.fast_client:
                entered = len(self.entered) > before
        return answers[0], answers[1], entered


def comparable(response: TestResponse) -> tuple[int, list[tuple[str, str]], Any]:
    """Status, headers and body; an incident id (random per answer) replaced by its length."""
    headers = sorted(response.headers.items())
    body: Any = response.get_data()
    if response.mimetype == "application/json":
        body = response.get_json()
        if isinstance(body, dict) and "incident" in body:
            body["incident"] = len(body["incident"])
        headers = [(k, v) for k, v in headers if k != "Content-Length"]
    return response.status_code, headers, body


def same(fast: TestResponse, slow: TestResponse) -> tuple[int, list[tuple[str, str]], Any]:
    got = comparable(fast)
    assert got == comparable(slow)
    if fast.mimetype == "application/json" and "incident" not in (fast.get_json() or {}):
        assert fast.get_data() == slow.get_data()  # byte for byte, as jsonify writes it
    return got


@pytest.fixture
def twins(app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]) -> Twins:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as in production
    return Twins(app, player_config(make_launch(GOLF12, sub="fast")), player_config(make_launch(GOLF12, sub="slow")))


def _changes(seq: int) -> dict[str, Any]:
    return {"seq": seq, "id": f"c{seq}", "changes": {"cmi.core.lesson_location": f"p{seq}", "cmi.core.score.raw": "50"}}


def test_a_commit_is_answered_without_flask_and_as_flask_answers_it(twins: Twins) -> None:
    fast, slow, entered = twins.send(_changes(1))
    status, headers, body = same(fast, slow)
    assert status == 200 and not entered
    assert dict(headers)["X-Request-ID"] == "cmp-1"
    assert body["seq"] == 1 and body["stored"] == 2 and body["replayed"] is False
    # the same commit again (a retry after a lost answer): replayed, still the fast path
    fast, slow, entered = twins.send(_changes(1))
    assert same(fast, slow)[2]["replayed"] is True and not entered


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("forged token", 401, "runtime_token_refused"),
        ("another attempt's token", 403, "forbidden_attempt"),
        ("no token (a beacon)", 401, "runtime_token_refused"),
        ("body too large", 413, "commit_too_large"),
        ("not JSON", 400, "invalid_commit"),
        ("not UTF-8", 400, "invalid_commit"),
        ("too deep", 400, "invalid_commit"),
        ("not an object", 400, "invalid_commit"),
        ("seq past the counter", 400, "invalid_commit"),
        ("no seq", 400, "invalid_commit"),
        ("a value that is not a string", 400, "invalid_commit"),
    ],
)
def test_refusals_are_flasks_answers(twins: Twins, services: Services, case: str, status: int, code: str) -> None:
    body: Any = _changes(1)
    token: Callable[[dict[str, Any]], str | None] = lambda c: c["runtime"]["token"]  # noqa: E731
    if case == "forged token":
        token = lambda c: c["runtime"]["token"][:-4] + "AAAA"  # noqa: E731
    elif case == "another attempt's token":
        token = lambda c: (twins.slow if c is twins.fast else twins.fast)["runtime"]["token"]  # noqa: E731
    elif case == "no token (a beacon)":
        token = lambda c: None  # noqa: E731
    elif case == "body too large":
        body = json.dumps({"seq": 1, "changes": {"cmi.suspend_data": "x" * services.settings.player.commit_max_bytes}})
    elif case == "not JSON":
        body = "{seq: 1"
    elif case == "not UTF-8":
        body = b'{"seq": 1, "changes": {"cmi.core.lesson_location": "\xff"}}'
    elif case == "too deep":
        body = '{"seq": 1, "x": ' + "[" * 40 + "]" * 40 + "}"
    elif case == "not an object":
        body = "[1, 2]"
    elif case == "seq past the counter":
        body = {"seq": MAX_SEQ + 1, "changes": {}}
    elif case == "no seq":
        body = {"changes": {}}
    elif case == "a value that is not a string":
        body = {"seq": 1, "changes": {"cmi.core.lesson_location": [1]}}
    fast, slow, _ = twins.send(body, token=token)
    got_status, _, got = same(fast, slow)
    assert (got_status, got["error"]) == (status, code), got
    # nothing was stored: the first real commit is still seq 1
    fast, slow, _ = twins.send(_changes(1))
    assert same(fast, slow)[0] == 200


def test_refusals_are_answered_in_the_readers_language(twins: Twins) -> None:
    forged: Callable[[dict[str, Any]], str] = lambda c: "forged"  # noqa: E731
    fast, slow, entered = twins.send(_changes(1), token=forged, headers={"Accept-Language": "fr"})
    _, _, body = same(fast, slow)
    assert entered and body["error"] == "runtime_token_refused"
    english = twins.send(_changes(1), token=forged)[0].get_json()["message"]
    assert body["message"] != english


def test_a_stale_seq_is_flasks_409_with_the_expected_seq(twins: Twins) -> None:
    assert twins.send(_changes(1))[0].status_code == 200
    newer = {**_changes(1), "id": "another"}
    fast, slow, entered = twins.send(newer)
    status, _, body = same(fast, slow)
    assert (status, body["error"], body["expected_seq"], entered) == (409, "stale_seq", 2, True)


def test_an_unknown_item_is_flasks_answer(twins: Twins) -> None:
    for config in (twins.fast, twins.slow):
        config["runtime"]["commitUrl"] = config["runtime"]["commitUrl"].replace("/commit", "x/commit")
    fast, slow, entered = twins.send(_changes(1))
    status, _, body = same(fast, slow)
    assert status == 404 and body["error"] == "item_not_found" and entered


def test_what_the_fast_path_does_not_take_goes_to_flask_unchanged(twins: Twins) -> None:
    # a query string (?lang= switches the language: Flask's hook sets the cookie)
    fast, slow, entered = twins.send(_changes(1), query="?lang=fr")
    status, headers, _ = same(fast, slow)
    assert status == 200 and entered and any(k == "Set-Cookie" for k, _ in headers)
    # the beacon form: the token in the body
    beacon: Callable[[dict[str, Any]], None] = lambda c: None  # noqa: E731
    fast_body = {**_changes(2), "token": twins.fast["runtime"]["token"]}
    slow_body = {**_changes(2), "token": twins.slow["runtime"]["token"]}
    fast = twins.fast_client.post(twins.fast["runtime"]["commitUrl"], data=json.dumps(fast_body))
    slow = twins.flask_client.post(twins.slow["runtime"]["commitUrl"], data=json.dumps(slow_body))
    assert comparable(fast)[0] == comparable(slow)[0] == 200
    assert comparable(fast)[2] == comparable(slow)[2]
    del beacon


def test_a_database_outage_is_flasks_503_with_retry_after(twins: Twins, services: Services) -> None:
    def refuse(*_args: Any) -> None:
        raise services.db.engine.dialect.loaded_dbapi.OperationalError("unable to open database file")

    services.db.engine.dispose()
    event.listen(services.db.engine, "do_connect", refuse)
    try:
        fast, slow, entered = twins.send(_changes(1))
        status, headers, body = same(fast, slow)
    finally:
        event.remove(services.db.engine, "do_connect", refuse)
    assert (status, dict(headers)["Retry-After"], body["error"], entered) == (503, "5", "database_unavailable", True)
    assert twins.send(_changes(1))[0].status_code == 200  # back: the same commit goes through


def test_a_disabled_platform_is_refused_by_the_gate(twins: Twins, services: Services, platform_id: int) -> None:
    assert twins.send(_changes(1))[0].status_code == 200
    platforms.disable_platform(services.db, platform_id)
    fast, slow, entered = twins.send(_changes(2))
    status, _, body = same(fast, slow)
    assert (status, body["error"], entered) == (403, "platform_disabled", True)
    platforms.approve_platform(services.db, platform_id)
    assert twins.send(_changes(2))[0].status_code == 200


def test_the_refreshed_menu_is_the_routes(
    app: Flask, make_launch: Callable[..., Any], player_config: Callable[..., dict[str, Any]]
) -> None:
    twins = Twins(
        app, player_config(make_launch(SEQUENCED, sub="fast")), player_config(make_launch(SEQUENCED, sub="slow"))
    )
    changes = {"cmi.completion_status": "completed", "cmi.success_status": "passed", "cmi.exit": "normal"}
    fast, slow, entered = twins.send(
        {"seq": 1, "changes": changes, "terminate": True}, headers={"Accept-Language": "es"}
    )
    assert fast.status_code == slow.status_code == 200 and not entered
    a, b = fast.get_json(), slow.get_json()
    for body in (a, b):  # content URLs carry a token signed for the attempt
        for item in body["items"]:
            item["url"] = item["url"] and item["url"].split("/content/")[0]
    assert a == b and a["nav"]["continue"] is True
    assert [i["disabled"] for i in a["items"] if i["kind"] == "sco"][:2] == [False, False]


def _samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client import generate_latest

    out = {}
    for family in text_string_to_metric_families(generate_latest(metrics().registry).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_each_commit_once_by_status_and_code(twins: Twins) -> None:
    rule = (("endpoint", "/runtime/<attempt_id>/<item_id>/commit"), ("method", "POST"))
    before = _samples()
    assert (
        twins.fast_client.post(
            twins.fast["runtime"]["commitUrl"],
            data=json.dumps(_changes(1)),
            headers={"Authorization": f"Bearer {twins.fast['runtime']['token']}"},
        ).status_code
        == 200
    )
    forged = twins.fast_client.post(
        twins.fast["runtime"]["commitUrl"], data=json.dumps(_changes(2)), headers={"Authorization": "Bearer forged"}
    )
    assert forged.status_code == 401
    after = _samples()

    def delta(name: str, labels: tuple[tuple[str, str], ...]) -> float:
        key = (name, tuple(sorted(labels)))
        return after.get(key, 0.0) - before.get(key, 0.0)

    for status in ("200", "401"):
        assert delta("cbsi_http_request_duration_seconds_count", (*rule, ("status", status))) == 1
        assert delta("cbsi_runtime_commit_duration_seconds_count", (("status", status),)) == 1
    assert delta("cbsi_errors_total", (("code", "runtime_token_refused"),)) == 1
    assert twins.entered == [twins.fast["runtime"]["commitUrl"]]  # the refusal only


def test_the_commits_log_lines_carry_its_request_id(twins: Twins, json_log: io.StringIO) -> None:
    # a value the data model refuses: stored as a content defect, logged while the commit runs
    body = {"seq": 1, "changes": {"cmi.core.lesson_status": "bogus"}}
    fast = twins.fast_client.post(
        twins.fast["runtime"]["commitUrl"],
        data=json.dumps(body),
        headers={"Authorization": f"Bearer {twins.fast['runtime']['token']}", "X-Request-ID": "trace-77"},
    )
    assert fast.status_code == 200 and fast.get_json()["rejected"] and not twins.entered
    lines = [json.loads(x) for x in json_log.getvalue().splitlines()]
    defect = [x for x in lines if x.get("action") == "runtime_values_refused"]
    assert defect and defect[0]["request_id"] == "trace-77"
    # an unsafe incoming id is replaced, as Flask's hook does
    again = twins.fast_client.post(
        twins.fast["runtime"]["commitUrl"],
        data=json.dumps({"seq": 2, "changes": {}}),
        headers={"Authorization": f"Bearer {twins.fast['runtime']['token']}", "X-Request-ID": "bad id!"},
    )
    assert again.status_code == 200 and again.headers["X-Request-ID"] != "bad id!"
    assert len(again.headers["X-Request-ID"]) == 32


def test_a_failure_is_answered_never_retried_into_a_success(
    twins: Twins, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The route raises what the fast path met instead of committing again (a second try could succeed)."""
    from sqlalchemy.exc import OperationalError

    from lti_tool.runtime import service

    real = service.commit
    calls: list[str] = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[1])
        if len(calls) == 1:
            raise OperationalError("UPDATE sco_states ...", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "commit", fails_once)
    response = twins.fast_client.post(
        twins.fast["runtime"]["commitUrl"],
        data=json.dumps(_changes(1)),
        headers={"Authorization": f"Bearer {twins.fast['runtime']['token']}"},
    )
    assert response.status_code == 503 and response.get_json()["error"] == "database_unavailable"
    assert response.headers["Retry-After"] == "5" and len(calls) == 1 and twins.entered


def test_a_failure_before_the_body_is_read_leaves_the_body_to_flask(
    twins: Twins, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database drops while the gate looks the attempt up: 503, never a 400 for a body not handed on."""
    from sqlalchemy.exc import OperationalError

    from lti_tool.lti.gate import PlatformGate

    real = PlatformGate.check_attempt
    calls: list[str] = []

    def drops_once(gate: PlatformGate, attempt_id: str) -> None:
        calls.append(attempt_id)
        if len(calls) == 1:
            raise OperationalError("SELECT ...", {}, Exception("terminating connection due to administrator command"))
        real(gate, attempt_id)

    monkeypatch.setattr(PlatformGate, "check_attempt", drops_once)
    response = twins.fast_client.post(
        twins.fast["runtime"]["commitUrl"],
        data=json.dumps(_changes(1)),
        headers={"Authorization": f"Bearer {twins.fast['runtime']['token']}"},
    )
    assert response.status_code == 503, response.get_data()[:300]
    assert response.get_json()["error"] == "database_unavailable" and len(calls) == 2  # Flask's gate ran too
    # and nothing was stored: the same commit goes through now
    assert twins.send(_changes(1))[0].status_code == 200
