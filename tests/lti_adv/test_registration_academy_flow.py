"""The whole academy flow once more, with a port in the tool's URL (issue 12, closing run).

The tool runs on ``http://127.0.0.1:<port>`` with the development LMS, over real HTTP:
Dynamic Registration (Moodle's domain rule: host:port) → pending → operator approval → the
instructor deep-links a catalogue course → a learner launches it and the SCO commits a score →
the grade worker delivers it → the development LMS's gradebook shows it → ``platforms list``
shows the registration's name and last launch.

The development LMS has no Dynamic Registration endpoints of its own (``lti_tool/devlms/``
knows its tool from ``ensure_registered``); here a small registration front on another loopback port
serves its OpenID configuration (its real issuer, auth, token and JWKS endpoints) and a registration
endpoint that applies Moodle 4.5's checks and hands out the client id and deployment id the
development LMS launches with. Everything after the registration is the development LMS itself.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from click.testing import CliRunner
from lti_adv_helpers import FakeServer, Recorded, json_reply, moodle_domain, running_fake_server, text_reply
from werkzeug.serving import make_server

from lti_tool import catalogue, create_app, devlms, grades
from lti_tool.cli import CliContext, cli
from lti_tool.devlms import identity as devplatform
from lti_tool.devlms.seed import build_demo_package
from lti_tool.lti import platforms
from lti_tool.lti.tokens import TOOL_SCOPES
from lti_tool.services import Services, build_services
from lti_tool.settings import load_settings
from sync.lti_claims import TOOL_CONFIGURATION


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


class RegistrationFront:
    """The development LMS's Dynamic Registration endpoints, with Moodle 4.5's checks."""

    def __init__(self, fake: FakeServer, tool_base: str) -> None:
        self.fake = fake
        self.issuer = devplatform.issuer(tool_base)
        self.token = "dev-lms-registration-token"
        self.received: list[dict[str, Any]] = []
        fake.route("GET", "/openid-configuration", self.configuration)
        fake.route("POST", "/register", self.register)

    @property
    def configuration_url(self) -> str:
        return self.fake.url("/openid-configuration")

    def configuration(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        return json_reply(
            200,
            {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/auth",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "registration_endpoint": self.fake.url("/register"),
                "scopes_supported": ["openid", *TOOL_SCOPES],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "moodle",
                    "version": "4.5.1+ (Build: 20241213)",
                    "messages_supported": ["LtiResourceLinkRequest", "LtiDeepLinkingRequest"],
                },
            },
        )

    def register(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        if rec.headers.get("Authorization") != f"Bearer {self.token}":
            return text_reply(401, "token_already_used")
        body = rec.json()
        conf = body.get(TOOL_CONFIGURATION) or {}
        if moodle_domain(conf.get("domain", "")) != moodle_domain(conf.get("target_link_uri", "")):
            return text_reply(400, "domain_targetlinkuri_mismatch")
        self.received.append(body)
        answer = {
            **body,
            "client_id": devplatform.CLIENT_ID,
            TOOL_CONFIGURATION: {**conf, "deployment_id": devplatform.DEPLOYMENT_ID},
        }
        return json_reply(200, answer)


@pytest.fixture
def academy(settings_overrides: dict[str, dict[str, Any]], tmp_path: Path) -> Iterator[tuple[str, Services]]:
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
    catalogue.import_package(services, build_demo_package(tmp_path / "demo.zip"))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield base, services
    finally:
        server.shutdown()
        thread.join(timeout=5)
        services.db.dispose()


def launch(session: requests.Session, lms: str, query: str) -> requests.Response:
    assert session.get(lms, timeout=10).status_code == 200
    auth_page = session.get(f"{lms}/launch?{query}", timeout=10)
    action, fields = form_fields(auth_page.text, "form_post")
    return session.post(action, data=fields, timeout=10)


def player_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="cbsi-player-config"[^>]*>(.*?)</script>', html, re.S)
    assert match, html[:800]
    return json.loads(unescape(match.group(1)))


def test_register_approve_deep_link_launch_and_grade_with_a_port_in_the_tool_url(
    academy: tuple[str, Services],
):
    base, services = academy
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base)  # the tool's URL has a port
    lms = devplatform.issuer(base)

    # 1. Dynamic Registration: the LMS accepts the tool's domain (host:port), the platform is pending.
    with running_fake_server() as fake:
        front = RegistrationFront(fake, base)
        query = urlencode({"openid_configuration": front.configuration_url, "registration_token": front.token})
        registered = requests.get(f"{base}/lti/register?{query}", timeout=10)
        assert registered.status_code == 200, registered.text[:1500]
    [sent] = front.received
    assert sent[TOOL_CONFIGURATION]["domain"] == base.removeprefix("http://")
    [platform] = platforms.list_platforms(services.db)
    assert (platform.status, platform.client_id, platform.issuer) == ("pending", devplatform.CLIENT_ID, lms)
    assert platform.name == f"Moodle 4.5.1+ at {base.removeprefix('http://')}/dev/platform"
    assert f"cbsi-connect platforms approve {platform.id}" in registered.text
    assert platform.last_launch_at is None

    # 2. Pending: the LMS's launches are refused until the operator approves.
    stranger = Browser()
    stranger.get(lms, timeout=10)
    refused = stranger.get(f"{lms}/launch?user=instructor&kind=deeplink", timeout=10)
    assert refused.status_code >= 400 and "waiting for approval" in refused.text, refused.text[:800]
    platforms.approve_platform(services.db, platform.id)

    # 3. The instructor deep-links the demo course; the LMS creates the activity and its grade column.
    instructor = Browser()
    picker = launch(instructor, lms, "user=instructor&kind=deeplink")
    assert picker.status_code == 200 and "Evidence Handling Basics" in picker.text, picker.text[:800]
    token = unescape(re.search(r'name="dl_token" value="([^"]+)"', picker.text).group(1))
    course = unescape(re.search(r'name="course" id="c1" value="([^"]+)"', picker.text).group(1))
    answer = instructor.post(f"{base}/lti/deep-linking/respond", data={"dl_token": token, "course": [course]})
    return_url, jwt_field = form_fields(answer.text, "dl-return")
    created = instructor.post(return_url, data=jwt_field, timeout=10)
    assert created.status_code == 200 and "Evidence Handling Basics" in created.text, created.text[:800]
    link = max(int(n) for n in re.findall(r"launch\?user=[a-z]+&amp;link=(\d+)", instructor.get(lms).text))

    # 4. A learner launches it; the SCO reports a passing score through the runtime API.
    learner = Browser()
    played = launch(learner, lms, f"user=learner&link={link}")
    assert played.status_code == 200 and "Evidence Handling Basics" in played.text, played.text[:800]
    runtime = player_config(played.text)["runtime"]
    assert runtime["version"] == "1.2"
    changes = {
        "cmi.core.score.raw": "85",
        "cmi.core.score.min": "0",
        "cmi.core.score.max": "100",
        "cmi.core.lesson_status": "passed",
    }
    commit = learner.post(
        base + runtime["commitUrl"] if runtime["commitUrl"].startswith("/") else runtime["commitUrl"],
        json={"seq": runtime["seq"] + 1, "changes": changes, "terminate": True},
        headers={"Authorization": f"Bearer {runtime['token']}"},
        timeout=10,
    )
    assert commit.status_code == 200, commit.text[:800]

    # 5. The grade worker delivers the score over AGS; the LMS's gradebook shows it.
    worker = grades.build_worker(services)
    deadline = time.monotonic() + 20
    book = ""
    while time.monotonic() < deadline:
        worker.run_once()
        book = requests.get(lms + "/gradebook", timeout=10).text
        if "85.0 / 100.0" in book:
            break
        time.sleep(0.1)
    assert "85.0 / 100.0" in book and "Evidence Handling Basics" in book, book[:1500]

    # 6. The operator sees which registration launched, and when.
    info = platforms.get_platform(services.db, platform.id)
    assert info.status == "active" and info.last_launch_at is not None
    operator = CliContext(None)  # the operator's CLI over the same services (no second connection pool)
    operator._settings, operator._services = services.settings, services
    listed = CliRunner().invoke(cli, ["platforms", "list"], obj=operator, catch_exceptions=False)
    assert listed.exit_code == 0, listed.output
    assert (
        "Moodle 4.5.1+ at 127.0.0.1" in listed.output and f"{info.last_launch_at:%Y-%m-%d %H:%M} UTC" in listed.output
    )
