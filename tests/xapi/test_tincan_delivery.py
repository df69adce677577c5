"""TinCan (xAPI) launch through the app with the real GolfExample package: the five launch
parameters, the credential's scope, the bookmark surviving a relaunch, and the outcome queued."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import factories
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.lti.context import Launch
from lti_tool.services import Services
from lti_tool.storage.models import Attempt, GradeOutbox
from lti_tool.web.player import learner_page

GOLF = "xapi/GolfExample_TCAPI.zip"
ACTIVITY = "http://id.tincanapi.com/activity/tincan-prototypes/golf-example"
JSON = {"Accept": "application/json"}


def _page(app: Flask, launch: Launch) -> tuple[str, dict[str, Any]]:
    with app.test_request_context(f"/play/{launch.id}"):
        html = learner_page(launch)
    url = re.search(r'data-launch-url="([^"]+)"', html)
    config = re.search(r'id="cbsi-player-config">(.*?)</script>', html, re.S)
    assert url and config, html[:300]
    return url.group(1), json.loads(config.group(1))


def _launch(app: Flask, client: FlaskClient, launch: Launch) -> dict[str, str]:
    url, config = _page(app, launch)
    assert url.startswith("/cmi5/tincan/")
    answer = client.post(url, json={"token": config["token"], "au": config["items"][0]["id"]}, headers=JSON)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    target = answer.get_json()["url"]
    assert target.startswith("http://localhost/content/") and urlsplit(target).path.endswith("/index.html")
    return {k: v[0] for k, v in parse_qs(urlsplit(target).query).items()} | {"attempt": config["attemptId"]}


def _hdr(params: dict[str, str]) -> dict[str, str]:
    return {"Authorization": params["auth"], "X-Experience-API-Version": "1.0.3"}


def _state(params: dict[str, str], state_id: str = "bookmark") -> dict[str, str]:
    return {
        "activityId": params["activity_id"],
        "agent": params["actor"],
        "registration": params["registration"],
        "stateId": state_id,
    }


@pytest.fixture
def golf_key(services: Services, fixtures_dir: Path) -> str:
    return factories.import_course(services, fixtures_dir / GOLF).course_key


def test_the_launch_url_carries_what_tincan_content_expects(
    app: Flask, client: FlaskClient, golf_key: str, platform_id: int
) -> None:
    params = _launch(app, client, factories.launch(golf_key, platform_id=platform_id, sub="ana"))
    assert set(params) == {"endpoint", "auth", "actor", "registration", "activity_id", "attempt"}
    assert params["endpoint"] == "http://localhost/xapi/"
    assert params["auth"].startswith("Basic ")
    assert json.loads(params["actor"]) == {
        "objectType": "Agent",
        "account": {"homePage": factories.ISSUER, "name": "ana"},
    }
    assert params["activity_id"] == ACTIVITY
    assert client.get("/xapi/about", headers=_hdr(params)).status_code == 200


def test_the_bookmark_survives_a_relaunch_and_another_learner_cannot_read_it(
    app: Flask, client: FlaskClient, golf_key: str, platform_id: int
) -> None:
    first = _launch(app, client, factories.launch(golf_key, platform_id=platform_id, sub="ana"))
    put = client.put(
        "/xapi/activities/state",
        query_string=_state(first),
        data="page-3",
        headers=_hdr(first) | {"Content-Type": "text/plain"},
    )
    assert put.status_code == 204, put.get_data(as_text=True)
    again = _launch(app, client, factories.launch(golf_key, platform_id=platform_id, sub="ana", launch_id="launch-2"))
    assert again["registration"] == first["registration"] and again["auth"] != first["auth"]
    read = client.get("/xapi/activities/state", query_string=_state(again), headers=_hdr(again))
    assert read.status_code == 200 and read.get_data(as_text=True) == "page-3"
    other = _launch(
        app, client, factories.launch(golf_key, platform_id=platform_id, sub="ben", link="rl-1", launch_id="launch-3")
    )
    foreign = client.get("/xapi/activities/state", query_string=_state(first), headers=_hdr(other))
    assert foreign.status_code == 403


def test_completed_and_passed_statements_become_the_attempts_outcome_in_the_outbox(
    app: Flask, client: FlaskClient, services: Services, golf_key: str, platform_id: int
) -> None:
    params = _launch(app, client, factories.launch(golf_key, platform_id=platform_id, sub="ana"))
    actor = json.loads(params["actor"])
    context = {"registration": params["registration"]}

    def send(verb: str, **result: Any) -> int:
        statement = {
            "actor": actor,
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": ACTIVITY},
            "context": context,
        }
        if result:
            statement["result"] = result
        return client.post("/xapi/statements", json=statement, headers=_hdr(params)).status_code

    assert send("attempted") == 200
    with services.db.session() as s:
        assert s.scalars(select(GradeOutbox)).first() is None
    assert send("passed", score={"raw": 8, "min": 0, "max": 10}, success=True, completion=True) == 200
    with services.db.session() as s:
        attempt = s.get(Attempt, params["attempt"])
        assert attempt is not None
        assert attempt.outcome["completion"] == "completed" and attempt.outcome["success"] == "passed"
        assert attempt.outcome["score_scaled"] == pytest.approx(0.8)
        queued = list(s.scalars(select(GradeOutbox)))
        assert len(queued) == 1 and queued[0].user_id == "ana"
