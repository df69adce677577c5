"""Deep linking end to end against the development LMS (``lti_tool.devlms``), over real HTTP.

The development LMS (``/dev/platform``) starts a deep linking launch, the tool's picker answers,
the instructor picks two courses, the auto-posted response goes back to the LMS, which verifies it
against the tool's JWKS and creates the activities; a learner then launches one of them.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

from lti_tool import catalogue, create_app, devlms
from lti_tool.devlms import identity as devplatform
from lti_tool.devlms.seed import build_demo_package
from lti_tool.services import build_services
from lti_tool.settings import load_settings
from lti_tool.web import lti_adv

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "packages"

class Browser(requests.Session):
    """Returns Secure cookies to http://127.0.0.1 like browsers do (a secure context)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        for cookie in self.cookies:
            cookie.secure = False
        return super().request(*args, **kwargs)


def form_fields(html: str, form_id: str) -> tuple[str, dict[str, str]]:
    form = re.search(rf'<form id="{form_id}" method="post" action="([^"]+)"(.*?)</form>', html, re.S)
    assert form, html[:800]
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form.group(2))}
    return unescape(form.group(1)), fields


@pytest.fixture
def live_app(settings_overrides: dict[str, dict[str, Any]], tmp_path: Path) -> Iterator[tuple[str, Flask]]:
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    overrides = copy.deepcopy(settings_overrides)
    overrides["server"]["base_url"] = base
    settings = load_settings(environ={}, overrides=overrides)
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    devlms.install(app, services)
    # the real catalogue: the bundled demo course and a real third-party SCORM 1.2 package
    demo = catalogue.import_package(services, build_demo_package(tmp_path / "demo.zip"))
    golf = catalogue.import_package(services, FIXTURES / "scorm12" / "RuntimeBasicCalls_SCORM12.zip")
    app.config["TEST_COURSES"] = {"demo": demo, "golf": golf}
    devplatform.ensure_registered(services.db, base)
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base, app
    finally:
        server.shutdown()
        thread.join(timeout=5)
        services.db.dispose()


@pytest.fixture
def live(live_app: tuple[str, Flask]) -> str:
    return live_app[0]


def test_instructor_picks_courses_and_the_lms_creates_them(live_app: tuple[str, Flask]):
    live, app = live_app
    courses = app.config["TEST_COURSES"]
    platform = live + "/dev/platform"
    s = Browser()
    assert s.get(platform, timeout=10).status_code == 200
    auth_page = s.get(f"{platform}/launch?user=instructor&kind=deeplink", timeout=10)
    action, fields = form_fields(auth_page.text, "form_post")
    picker = s.post(action, data=fields, timeout=10)
    assert picker.status_code == 200, picker.text[:800]
    assert "Evidence Handling Basics" in picker.text and "Run-time Basic Calls" in picker.text
    assert 'type="checkbox"' in picker.text
    token = unescape(re.search(r'name="dl_token" value="([^"]+)"', picker.text).group(1))

    picks = [f"{courses['golf'].course_id}@1", f"{courses['demo'].course_id}@1"]
    answer = s.post(live + "/lti/deep-linking/respond", data={"dl_token": token, "course": picks}, timeout=10)
    assert answer.status_code == 200, answer.text[:800]
    return_url, jwt_field = form_fields(answer.text, "dl-return")
    assert return_url == platform + "/deep_link_return"
    created = s.post(return_url, data=jwt_field, timeout=10)
    assert created.status_code == 200, created.text[:800]
    home = s.get(platform, timeout=10).text
    assert "Golf Explained - Run-time Basic Calls" in home and "Evidence Handling Basics" in home

    # a learner launches the first new activity: the player opens the picked real package
    learner = Browser()
    learner.get(platform, timeout=10)
    auth_page = learner.get(f"{platform}/launch?user=learner&link=2", timeout=10)
    action, fields = form_fields(auth_page.text, "form_post")
    played = learner.post(action, data=fields, timeout=10)
    assert played.status_code == 200, played.text[:800]
    assert 'id="cbsi-player-config"' in played.text and "Golf Explained - Run-time Basic Calls" in played.text
    assert "shared/launchpage.html" in played.text


def test_roster_and_service_token_against_the_development_lms(live_app: tuple[str, Flask]):
    base, app = live_app
    platform = base + "/dev/platform"
    s = Browser()
    s.get(platform, timeout=10)
    auth_page = s.get(f"{platform}/launch?user=instructor&link=1", timeout=10)
    action, fields = form_fields(auth_page.text, "form_post")
    class_view = s.post(action, data=fields, timeout=10)
    launch_id = re.search(r"/class/([^/?]+)", class_view.url).group(1)
    # the class view pulled the roster through NRPS: the learner who never opened the activity is listed
    assert "Ana Learner" in class_view.text and "Not started" in class_view.text
    with app.test_request_context("/"):
        launch = lti_adv.load_launch(launch_id)
        assert launch is not None and launch.nrps
        cached = lti_adv.roster_for(launch)
        fresh = lti_adv.roster_for(launch, refresh=True)
    assert {m.name for m in fresh.members} >= {"Ana Learner", "Ian Instructor"}
    assert cached.from_cache and not fresh.from_cache
