"""cmi5 AU delivery through the app: launch, one-time fetch URL, the LRS judging an AU session's
statements, moveOn and satisfied statements, the outcome queued for the gradebook, abandoned
sessions, and credential scoping between learners (real CATAPULT package)."""

from __future__ import annotations

import base64
import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import factories
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.lrs import create_operator_credential
from lti_tool.lrs.identity import learner_tenant
from lti_tool.runtime import cmi5_delivery, service
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, Cmi5AuSession, CourseVersion, GradeOutbox
from lti_tool.web.player import learner_page
from scorm.xapi.cmi5 import (
    ABANDONED,
    CATEGORY_CMI5,
    CATEGORY_MOVEON,
    COMPLETED,
    INITIALIZED,
    LAUNCHED,
    PASSED,
    SATISFIED,
    TERMINATED,
)

SINGLE = "cmi5/catapult_single_au_basic_framed.zip"
MULTI = "cmi5/catapult_multi_au_framed.zip"
V2 = "2.0.0"
JSON = {"Accept": "application/json"}


def _content_base(version_id: int) -> str:
    return f"http://content.example/{version_id}/"


class AuClient:
    """What an AU does with its launch URL: fetch the token, read LaunchData, send statements."""

    def __init__(self, client: FlaskClient, url: str) -> None:
        self.client = client
        self.url = url
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.params = query
        self.actor = json.loads(query["actor"])
        self.registration = query["registration"]
        self.activity_id = query["activityId"]
        self.auth = ""
        self.launch_data: dict[str, Any] = {}

    def fetch(self) -> dict[str, Any]:
        path = urlsplit(self.params["fetch"]).path
        return self.client.post(path).get_json()

    def start(self) -> None:
        answer = self.fetch()
        self.auth = "Basic " + answer["auth-token"]
        resp = self.client.get("/xapi/activities/state", query_string=self.state_params(), headers=self.headers())
        assert resp.status_code == 200, resp.get_data(as_text=True)
        self.launch_data = resp.get_json()

    def state_params(self) -> dict[str, str]:
        return {
            "activityId": self.activity_id,
            "agent": json.dumps(self.actor),
            "registration": self.registration,
            "stateId": "LMS.LaunchData",
        }

    def headers(self) -> dict[str, str]:
        return {"Authorization": self.auth, "X-Experience-API-Version": V2}

    def statement(self, verb: str, *, moveon: bool = False, **result: Any) -> dict[str, Any]:
        template = json.loads(json.dumps(self.launch_data["contextTemplate"]))
        categories = [{"id": CATEGORY_CMI5}] + ([{"id": CATEGORY_MOVEON}] if moveon else [])
        template["contextActivities"]["category"] = categories
        template["registration"] = self.registration
        st: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "actor": self.actor,
            "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
            "object": {"id": self.activity_id, "objectType": "Activity"},
            "context": template,
        }
        if result:
            st["result"] = result
        return st

    def send(self, statement: dict[str, Any]) -> Any:
        return self.client.post("/xapi/statements", json=statement, headers=self.headers())


def _open(services: Services, platform_id: int, fixtures_dir: Path, package: str, sub: str = "learner-1") -> str:
    imported = factories.import_course(services, fixtures_dir / package)
    key = imported.course_key
    opened = service.open_attempt(services, factories.launch(key, platform_id=platform_id, sub=sub))
    return opened.attempt_id


def _launch(services: Services, attempt_id: str, au: str | None = None) -> cmi5_delivery.Cmi5Launch:
    with services.db.session() as s:
        attempt = s.get(Attempt, attempt_id)
        assert attempt is not None
        current = au or attempt.current_item
        if current is None:  # a new attempt: the player launches the course's first AU
            version = s.get(CourseVersion, attempt.course_version_id)
            assert version is not None
            current = cmi5_delivery.course_structure(services, version).aus()[0].id
    return cmi5_delivery.launch_au(services, attempt_id=attempt_id, au_id=current, content_base=_content_base)


def _statements(client: FlaskClient, services: Services, platform_id: int, registration: str) -> list[dict[str, Any]]:
    operator = create_operator_credential(services.db, "report", tenant=learner_tenant(platform_id))
    resp = client.get(
        "/xapi/statements",
        query_string={"registration": registration, "ascending": "true", "limit": "100"},
        headers={"Authorization": operator.basic_auth, "X-Experience-API-Version": V2},
    )
    assert resp.status_code == 200
    return resp.get_json()["statements"]


def _verbs(statements: list[dict[str, Any]]) -> list[str]:
    return [s["verb"]["id"].rsplit("/", 1)[-1] for s in statements]


def test_a_cmi5_course_plays_passes_and_is_satisfied_with_its_score_queued(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    attempt_id = _open(services, platform_id, fixtures_dir, SINGLE)
    started = _launch(services, attempt_id)
    assert started.registration == str(uuid.UUID(hex=attempt_id))
    au = AuClient(client, started.url)
    assert started.url.startswith(_content_base(0).replace("/0/", "/"))
    assert au.params["endpoint"] == "http://localhost/xapi/"
    assert au.actor == {"objectType": "Agent", "account": {"homePage": factories.ISSUER, "name": "learner-1"}}
    au.start()
    assert au.launch_data["launchMode"] == "Normal" and au.launch_data["moveOn"] == "CompletedOrPassed"
    extensions = au.launch_data["contextTemplate"]["extensions"]
    assert extensions["https://w3id.org/xapi/cmi5/context/extensions/sessionid"] == started.session_id

    # the first statement of a session must be initialized (cmi5 6.3: rejected, not stored)
    early = au.send(au.statement(COMPLETED, moveon=True, completion=True, duration="PT1S"))
    assert early.status_code == 400
    assert early.get_json()["error"] == "cmi5_not_initialized"
    assert "7.1.1" in early.get_json()["message"]

    assert au.send(au.statement(INITIALIZED)).status_code == 200
    passed = au.statement(PASSED, moveon=True, success=True, duration="PT30S", score={"scaled": 0.9})
    assert au.send(passed).status_code == 200
    again = au.send(au.statement(PASSED, moveon=True, success=True, duration="PT31S", score={"scaled": 0.9}))
    assert again.status_code == 400 and again.get_json()["error"] == "cmi5_duplicate_verb"
    assert au.send(au.statement(TERMINATED, duration="PT40S")).status_code == 200
    after = au.send(au.statement(INITIALIZED))
    assert after.status_code == 400 and after.get_json()["error"] == "cmi5_session_terminated"

    stored = _statements(client, services, platform_id, started.registration)
    assert _verbs(stored) == ["launched", "initialized", "passed", "satisfied", "terminated"]
    satisfied = stored[3]
    assert satisfied["verb"]["id"] == SATISFIED
    assert satisfied["object"]["definition"]["type"] == "https://w3id.org/xapi/cmi5/activitytype/course"
    assert satisfied["object"]["id"] != "https://w3id.org/xapi/cmi5/catapult/lts/course/geology-intro-single-au-basic"
    assert stored[0]["verb"]["id"] == LAUNCHED

    with services.db.session() as s:
        attempt = s.get(Attempt, attempt_id)
        assert attempt is not None
        assert attempt.outcome["completion"] == "completed" and attempt.outcome["success"] == "passed"
        assert attempt.outcome["score_scaled"] == pytest.approx(0.9)
        queued = list(s.scalars(select(GradeOutbox)))
        assert len(queued) == 1
        assert queued[0].user_id == "learner-1"
        row = s.scalars(select(Cmi5AuSession)).one()
        assert row.status == "terminated"


def test_the_fetch_url_answers_once_and_only_to_post(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    attempt_id = _open(services, platform_id, fixtures_dir, SINGLE)
    au = AuClient(client, _launch(services, attempt_id).url)
    path = urlsplit(au.params["fetch"]).path
    assert client.get(path).status_code == 405  # a prefetch never spends the token
    first = client.post(path).get_json()
    key, _, secret = base64.b64decode(first["auth-token"]).decode().partition(":")
    assert key and secret
    second = client.post(path)
    assert second.status_code == 200
    assert second.get_json()["error-code"] == "1" and "auth-token" not in second.get_json()
    unknown = client.post("/cmi5/fetch/not-a-token").get_json()
    assert unknown["error-code"] == "2"


def test_a_new_launch_abandons_the_open_session_and_expires_its_credential(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    attempt_id = _open(services, platform_id, fixtures_dir, SINGLE)
    first = AuClient(client, _launch(services, attempt_id).url)
    first.start()
    assert first.send(first.statement(INITIALIZED)).status_code == 200
    second_launch = _launch(services, attempt_id)
    stored = _statements(client, services, platform_id, second_launch.registration)
    assert _verbs(stored) == ["launched", "initialized", "abandoned", "launched"]
    abandoned = stored[2]
    assert abandoned["verb"]["id"] == ABANDONED
    assert abandoned["result"]["duration"].startswith("PT")
    assert first.send(first.statement(TERMINATED, duration="PT1S")).status_code == 401  # credential expired
    second = AuClient(client, second_launch.url)
    second.start()
    assert second.send(second.statement(INITIALIZED)).status_code == 200


def test_learner_a_cannot_read_learner_b_launch_data(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    a = AuClient(client, _launch(services, _open(services, platform_id, fixtures_dir, SINGLE, sub="ana")).url)
    b_attempt = service.open_attempt(
        services, factories.launch(_course_key(services), platform_id=platform_id, sub="ben", link="rl-1")
    ).attempt_id
    b = AuClient(client, _launch(services, b_attempt).url)
    a.start()
    b.start()
    foreign = {**b.state_params()}
    resp = client.get("/xapi/activities/state", query_string=foreign, headers=a.headers())
    assert resp.status_code == 403
    # and A cannot record a statement as B
    st = a.statement(INITIALIZED)
    st["actor"] = b.actor
    assert a.send(st).status_code == 403


def _course_key(services: Services) -> str:
    from lti_tool.storage.models import Course

    with services.db.session() as s:
        return s.scalars(select(Course.key)).one()


def test_a_multi_au_course_is_satisfied_only_after_all_its_aus(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    attempt_id = _open(services, platform_id, fixtures_dir, MULTI)
    with services.db.session() as s:
        attempt = s.get(Attempt, attempt_id)
        assert attempt is not None
        version_id = attempt.course_version_id
    with services.db.session() as s:
        version = s.get(CourseVersion, version_id)
        assert version is not None
        course = cmi5_delivery.course_structure(services, version)
    aus = course.aus()
    assert len(aus) > 1
    registration = str(uuid.UUID(hex=attempt_id))
    for index, unit in enumerate(aus):
        au = AuClient(client, _launch(services, attempt_id, unit.id).url)
        au.start()
        assert au.send(au.statement(INITIALIZED)).status_code == 200
        done = au.statement(COMPLETED, moveon=True, completion=True, duration="PT5S")
        if unit.move_on.value in ("Passed", "CompletedAndPassed"):
            score = {"scaled": 1.0}
            assert (
                au.send(au.statement(PASSED, moveon=True, success=True, duration="PT5S", score=score)).status_code
                == 200
            )
        if unit.move_on.value != "Passed":
            assert au.send(done).status_code == 200
        assert au.send(au.statement(TERMINATED, duration="PT6S")).status_code == 200
        verbs = _verbs(_statements(client, services, platform_id, registration))
        course_satisfied = [
            s for s in _statements(client, services, platform_id, registration)
            if s["verb"]["id"] == SATISFIED
            and s["object"].get("definition", {}).get("type") == "https://w3id.org/xapi/cmi5/activitytype/course"
        ]  # fmt: skip
        if index < len(aus) - 1:
            assert course_satisfied == [], verbs
        else:
            assert len(course_satisfied) == 1, verbs


def test_the_lti_launch_renders_the_cmi5_page_which_launches_the_au_with_the_five_parameters(
    app: Flask, client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path
) -> None:
    key = factories.import_course(services, fixtures_dir / SINGLE).course_key
    launch = factories.launch(key, platform_id=platform_id, sub="ana")
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    assert "cmi5.js" in html and "runtime.js" not in html  # no SCORM API on a cmi5 page
    launch_url = re.search(r'data-launch-url="([^"]+)"', html)
    config = json.loads(re.search(r'id="cbsi-player-config">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert launch_url and config["items"][0]["id"].endswith("geology-intro-single-au-basic/1")
    refused = client.post(launch_url.group(1), json={"token": "forged", "au": config["items"][0]["id"]})
    assert refused.status_code in (401, 403)
    unknown = client.post(
        launch_url.group(1), json={"token": config["token"], "au": "https://elsewhere/au"}, headers=JSON
    )
    assert unknown.status_code == 404 and unknown.get_json()["error"] == "item_not_found"
    answer = client.post(launch_url.group(1), json={"token": config["token"], "au": config["items"][0]["id"]})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["launchMethod"] == "AnyWindow"
    parts = urlsplit(body["url"])
    assert body["url"].startswith("http://localhost/content/") and parts.path.endswith("/index.html")
    assert set(parse_qs(parts.query)) == {"endpoint", "fetch", "actor", "registration", "activityId"}
    assert parse_qs(parts.query)["registration"] == [str(uuid.UUID(hex=config["attemptId"]))]
