"""Disabling a platform takes effect on its open sessions: player pages, runtime tokens, content
links and class views are refused with 403 ``platform_disabled`` (at once in the process that
disabled it, within ``lti.platform_status_cache_seconds`` on other nodes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from lti_helpers import Peer, claims_for, login, post_launch
from sqlalchemy import update

from lti_tool import catalogue
from lti_tool.lti import platforms
from lti_tool.lti.gate import PlatformAccessDisabled, PlatformGate
from lti_tool.services import Services, services_of
from lti_tool.storage.models import Platform

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


def _launch(client: FlaskClient, peer: Peer, **changes: Any) -> str:
    state, nonce, _ = login(client)
    response = post_launch(client, peer.sign(claims_for(nonce, **changes)), state)
    assert response.status_code == 303, response.get_data(as_text=True)[:300]
    return response.headers["Location"]


@pytest.fixture
def course_key(services: Services, fixtures_dir: Path) -> str:
    return catalogue.import_package(services, fixtures_dir / GOLF12).course_key


@pytest.fixture
def session(client: FlaskClient, peer: Peer, course_key: str) -> dict[str, Any]:
    """A learner's open player (page URL, runtime config, content URL) and an instructor's class view."""
    play = _launch(client, peer, lti_custom={"course": course_key})
    page = client.get(play)
    assert page.status_code == 200
    match = re.search(
        r'<script type="application/json" id="cbsi-player-config">(.*?)</script>', page.get_data(as_text=True), re.S
    )
    assert match
    config = json.loads(match.group(1))
    class_view = _launch(client, peer, lti_roles=[INSTRUCTOR])
    assert client.get(class_view).status_code == 200
    content = config["items"][0]["url"].replace("http://localhost", "")
    first = client.get(content)
    assert first.status_code == 200
    first.close()
    return {"play": play, "config": config, "class": class_view, "content": content}


def _commit(client: FlaskClient, config: dict[str, Any], seq: int) -> Any:
    rt = config["runtime"]
    return client.post(
        rt["commitUrl"],
        data=json.dumps({"seq": seq, "changes": {"cmi.core.lesson_location": str(seq)}}),
        headers={"Authorization": f"Bearer {rt['token']}"},
        content_type="application/json",
    )


def _nav(client: FlaskClient, config: dict[str, Any]) -> Any:
    url = f"/runtime/{config['attemptId']}/nav"
    return client.post(
        url,
        data=json.dumps({"request": "continue", "token": config["token"]}),
        content_type="application/json",
    )


def _assert_refused_everywhere(client: FlaskClient, s: dict[str, Any]) -> None:
    config = s["config"]
    commit = _commit(client, config, 2)
    assert commit.status_code == 403 and commit.get_json()["error"] == "platform_disabled"
    nav = _nav(client, config)
    assert nav.status_code == 403 and nav.get_json()["error"] == "platform_disabled"
    reopen = client.post(f"/player/{config['attemptId']}", data={"token": config["token"]})
    assert reopen.status_code == 403
    content = client.get(s["content"])
    assert content.status_code == 403 and content.get_json()["error"] == "platform_disabled"
    for page in (s["play"], s["class"]):
        response = client.get(page)
        assert response.status_code == 403
        html = response.get_data(as_text=True)
        assert "platform_disabled" in html and "Contact your academy" in html


def test_disable_refuses_every_surface_at_once_in_this_process(
    client: FlaskClient, services: Services, peer: Peer, session: dict[str, Any]
) -> None:
    assert _commit(client, session["config"], 1).status_code == 200
    platforms.disable_platform(services.db, peer.platform.id)
    _assert_refused_everywhere(client, session)
    platforms.approve_platform(services.db, peer.platform.id)
    assert _commit(client, session["config"], 2).status_code == 200


def test_disable_by_the_cli_refuses_within_the_cache_time(
    app: Flask, client: FlaskClient, services: Services, peer: Peer, session: dict[str, Any], monkeypatch
) -> None:
    assert _commit(client, session["config"], 1).status_code == 200
    gate: PlatformGate = services_of(app).platform_gate
    clock = [1000.0]
    gate.monotonic = lambda: clock[0]
    gate._status.clear()
    assert _commit(client, session["config"], 2).status_code == 200  # status cached at t=1000
    # another process (the CLI on the same database) disables the platform
    with services.db.session() as s:
        s.execute(update(Platform).where(Platform.id == peer.platform.id).values(status="disabled"))
    clock[0] += services.settings.lti.platform_status_cache_seconds - 1
    assert _commit(client, session["config"], 3).status_code == 200  # still inside the cache time
    clock[0] += 2
    _assert_refused_everywhere(client, session)


def test_gate_caches_status_for_the_ttl_only(services: Services, peer: Peer) -> None:
    clock = [0.0]
    gate = PlatformGate(services.db, ttl_seconds=30, monotonic=lambda: clock[0])
    gate.check(peer.platform.id)
    with services.db.session() as s:
        s.execute(update(Platform).where(Platform.id == peer.platform.id).values(status="disabled"))
    clock[0] = 29.9
    gate.check(peer.platform.id)
    clock[0] = 30.1
    with pytest.raises(PlatformAccessDisabled):
        gate.check(peer.platform.id)
    gate.check(None)  # an unknown attempt or launch is left to the view (401/404)
    assert gate.attempt_platform("no-such-attempt") is None
