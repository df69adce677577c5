"""Player page and runtime API over HTTP: tokens, isolation, sizes, beacons."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest
from flask import Flask
from flask.testing import FlaskClient

from lti_tool.lti.context import Launch
from lti_tool.web.player import attempt_token, learner_page
from scorm.cmi import export_tables, get_value

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
GOLF2004 = "scorm2004/RuntimeBasicCalls_SCORM20043rdEdition.zip"


def player_config(app: Flask, launch: Launch) -> dict[str, Any]:
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    match = re.search(r'<script type="application/json" id="cbsi-player-config">(.*?)</script>', html, re.S)
    assert match, html[:300]
    return json.loads(match.group(1))


@pytest.fixture
def launched(app: Flask, import_course: Callable, make_launch: Callable[..., Launch]) -> dict[str, Any]:
    course = import_course(GOLF12)
    return player_config(app, make_launch(course.course_key))


def post(client: FlaskClient, url: str, body: Any, token: str | None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(url, data=data, headers=headers, content_type=kw.get("content_type", "application/json"))


def test_launch_renders_player_with_runtime_config(launched: dict[str, Any]) -> None:
    assert launched["version"] == "1.2"
    assert launched["items"][0]["url"].startswith("http://localhost/content/")
    assert launched["items"][0]["url"].endswith("shared/launchpage.html")
    runtime = launched["runtime"]
    assert runtime["seq"] == 0 and runtime["commitUrl"].endswith("/commit")
    assert runtime["state"]
    assert "tables" not in launched  # loaded from the cached tables script (below)
    assert launched["navUrl"] is None  # one SCO: no navigation
    assert "#t=" in launched["newWindowUrl"] and launched["token"] not in launched["newWindowUrl"].split("#")[0]


def _tables_src(app: Flask, launch: Launch) -> str:
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    match = re.search(r'<script src="(/player/tables/[^"]+)"></script>', html)
    assert match, "the player page loads no tables script"
    return match.group(1)


@pytest.mark.parametrize(("package", "version"), [(GOLF12, "1.2"), (GOLF2004, "2004")])
def test_player_tables_come_from_an_immutable_cached_script(
    app: Flask, client: FlaskClient, import_course: Callable, make_launch: Callable[..., Launch], package, version
) -> None:
    src = _tables_src(app, make_launch(import_course(package).course_key))
    response = client.get(src)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    prefix = f'window.CBSI_PLAYER_TABLES=window.CBSI_PLAYER_TABLES||{{}};window.CBSI_PLAYER_TABLES["{version}"]='
    body = response.get_data(as_text=True)
    assert body.startswith(prefix)
    tables = json.loads(body[len(prefix) :].rstrip().rstrip(";"))
    assert tables == json.loads(json.dumps(export_tables(version)))
    # the digest pins the content: another digest or version is not served
    assert client.get(src.replace(".js", "0.js")).status_code == 404
    assert client.get(src.replace(f"/{version}.", "/1.3.")).status_code == 404


def test_player_page_no_longer_carries_the_tables(
    app: Flask, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    launch = make_launch(import_course(GOLF2004).course_key)
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    assert len(html.encode()) < len(export_tables_json("2004"))  # the page is smaller than the tables alone


def export_tables_json(version: str) -> bytes:
    return json.dumps(export_tables(version)).encode()


def test_content_url_serves_the_package(client: FlaskClient, launched: dict[str, Any]) -> None:
    url = launched["items"][0]["url"].replace("http://localhost", "")
    response = client.get(url)
    assert response.status_code == 200 and b"<html" in response.data.lower()
    response.close()


def test_commit_roundtrip_and_stale_seq(client: FlaskClient, launched: dict[str, Any]) -> None:
    rt = launched["runtime"]
    ok = post(client, rt["commitUrl"], {"seq": 1, "changes": {"cmi.core.lesson_location": "3"}}, rt["token"])
    assert ok.status_code == 200 and ok.get_json()["seq"] == 1
    stale = post(client, rt["commitUrl"], {"seq": 1, "changes": {"cmi.core.lesson_location": "2"}}, rt["token"])
    assert stale.status_code == 409
    assert stale.get_json() == {
        "error": "stale_seq",
        "message": "commit sequence number already used; next expected is 2",
        "expected_seq": 2,
    }


def test_beacon_with_token_in_text_plain_body(client: FlaskClient, launched: dict[str, Any]) -> None:
    rt = launched["runtime"]
    body = json.dumps({"seq": 3, "token": rt["token"], "changes": {"cmi.suspend_data": "bye"}, "terminate": True})
    response = client.post(rt["commitUrl"], data=body, content_type="text/plain;charset=UTF-8")
    assert response.status_code == 200
    assert response.get_json()["seq"] == 3


@pytest.mark.parametrize(
    ("token_fn", "status", "code"),
    [
        (lambda rt: None, 401, "runtime_token_refused"),
        (lambda rt: rt["token"] + "x", 401, "runtime_token_refused"),
        (lambda rt: "a.b.c.d", 401, "runtime_token_refused"),
        (lambda rt: attempt_token("0" * 32, "learner-1"), 403, "forbidden_attempt"),
    ],
)
def test_commits_need_this_attempts_token(
    app: Flask, client: FlaskClient, launched: dict[str, Any], token_fn: Callable, status: int, code: str
) -> None:
    rt = launched["runtime"]
    with app.app_context():
        token = token_fn(rt)
    response = post(client, rt["commitUrl"], {"seq": 1, "changes": {"cmi.core.lesson_location": "x"}}, token)
    assert response.status_code == status
    assert response.get_json()["error"] == code


def test_another_learners_token_cannot_touch_this_attempt(
    app: Flask, client: FlaskClient, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course(GOLF12)
    ana = player_config(app, make_launch(course.course_key, sub="ana"))
    bob = player_config(app, make_launch(course.course_key, sub="bob"))
    # Bob's valid token against Ana's attempt: refused, and Ana's data untouched
    response = post(
        client, ana["runtime"]["commitUrl"], {"seq": 1, "changes": {"cmi.suspend_data": "bob"}}, bob["token"]
    )
    assert response.status_code == 403
    ok = post(client, ana["runtime"]["commitUrl"], {"seq": 1, "changes": {"cmi.suspend_data": "ana"}}, ana["token"])
    assert ok.status_code == 200


def test_oversized_and_malformed_bodies(client: FlaskClient, launched: dict[str, Any]) -> None:
    rt = launched["runtime"]
    huge = json.dumps({"seq": 1, "changes": {"cmi.suspend_data": "x" * 600_000}})
    response = post(client, rt["commitUrl"], huge, rt["token"])
    assert response.status_code == 413
    assert response.get_json()["error"] == "commit_too_large"
    assert post(client, rt["commitUrl"], "{not json", rt["token"]).get_json()["error"] == "invalid_commit"
    assert post(client, rt["commitUrl"], "[1,2]", rt["token"]).status_code == 400
    bad = post(client, rt["commitUrl"], {"seq": -1, "changes": {}}, rt["token"])
    assert bad.status_code == 400 and "seq" in bad.get_json()["message"]


def test_unknown_item_and_attempt(client: FlaskClient, launched: dict[str, Any]) -> None:
    rt = launched["runtime"]
    url = rt["commitUrl"].replace(f"/{rt['scoId']}/", "/no-such-item/")
    response = post(client, url, {"seq": 1, "changes": {}}, rt["token"])
    assert response.status_code == 404 and response.get_json()["error"] == "item_not_found"


def test_new_window_page_posts_the_fragment_token(client: FlaskClient, launched: dict[str, Any]) -> None:
    path = launched["newWindowUrl"].split("#")[0]
    page = client.get(path)
    assert page.status_code == 200 and b'name="token"' in page.data
    rendered = client.post(path, data={"token": launched["token"]})
    assert rendered.status_code == 200 and b"cbsi-player-config" in rendered.data
    assert client.post(path, data={"token": "forged"}).status_code == 401
    # the SCO in the new window knows the learner by the name their LMS sent (not "Learner")
    match = re.search(r'id="cbsi-player-config">(.*?)</script>', rendered.get_data(as_text=True), re.S)
    assert match
    state = json.loads(match.group(1))["runtime"]["state"]
    assert get_value(state, "cmi.core.student_name", "1.2")[0] == "Ana Learner"


def test_multi_item_navigation_over_http(
    app: Flask, client: FlaskClient, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course("scorm12/ContentPackagingOneFilePerSCO_SCORM12.zip")
    config = player_config(app, make_launch(course.course_key))
    leaves = [i for i in config["items"] if i["kind"] != "cluster"]
    clusters = [i for i in config["items"] if i["kind"] == "cluster"]
    assert config["navUrl"] and len(leaves) == 18 and len(clusters) == 4
    assert all(c["url"] is None for c in clusters) and all(leaf["url"] for leaf in leaves)
    assert config["current"] == leaves[0]["id"]
    reply = post(client, config["navUrl"], {"request": "continue", "from": leaves[0]["id"]}, config["token"])
    assert reply.status_code == 200
    body = reply.get_json()
    assert body["item"]["id"] == leaves[1]["id"]
    assert body["runtime"]["scoId"] == leaves[1]["id"]
    assert body["nav"] == {"previous": True, "continue": True, "jump": ANY}
    post(client, config["navUrl"], {"request": "previous"}, config["token"])
    refused = post(client, config["navUrl"], {"request": "previous"}, config["token"])
    assert refused.status_code == 400 and refused.get_json()["error"] == "nav_refused"
    assert refused.get_json()["message"]
    other = post(client, config["navUrl"], {"request": "continue"}, "forged-token")
    assert other.status_code == 401


def test_forced_sequential_refuses_jump_and_unlocks_after_the_first_sco(
    app: Flask, client: FlaskClient, import_course: Callable, make_launch: Callable[..., Launch]
) -> None:
    course = import_course("scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip")
    config = player_config(app, make_launch(course.course_key))
    leaves = [i for i in config["items"] if i["kind"] == "sco"]
    assert [i["disabled"] for i in leaves] == [False, True, True, True, True]
    assert config["current"] == leaves[0]["id"]
    # Continue is valid by NB.2.1 (ADL CTS CM-07d) but the flow refuses it: the reason comes along.
    assert config["nav"]["continue"] is True
    assert config["nav"]["continue_refused"] == "The next section is locked until you complete the previous one."
    jump = post(client, config["navUrl"], {"request": "choice", "target": leaves[2]["id"]}, config["token"])
    assert jump.status_code == 400 and jump.get_json()["error"] == "nav_refused"
    # passing the first SCO: the commit answer carries the refreshed menu and buttons
    rt = config["runtime"]
    changes = {"cmi.completion_status": "completed", "cmi.success_status": "passed", "cmi.exit": "normal"}
    reply = post(client, rt["commitUrl"], {"seq": 1, "changes": changes, "terminate": True}, rt["token"]).get_json()
    assert reply["nav"]["continue"] is True and "continue_refused" not in reply["nav"]
    assert [i["disabled"] for i in reply["items"] if i["kind"] == "sco"][:2] == [False, False]
    flow = post(client, config["navUrl"], {"request": "continue"}, config["token"]).get_json()
    assert flow["item"]["id"] == leaves[1]["id"] and flow["runtime"]["scoId"] == leaves[1]["id"]
    # the next SCO knows the learner by the name their LMS sent, as the first did
    for state in (config["runtime"]["state"], flow["runtime"]["state"]):
        assert get_value(state, "cmi.learner_name", "2004")[0] == "Ana Learner"
    still_locked = post(client, config["navUrl"], {"request": "choice", "target": leaves[3]["id"]}, config["token"])
    assert still_locked.status_code == 400
