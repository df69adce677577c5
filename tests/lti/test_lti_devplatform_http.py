"""The development platform end to end over real HTTP: the app runs on a loopback port in a
thread; ``requests`` plays the browser (follows redirects, submits the form_post)."""

from __future__ import annotations

import copy
import re
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from werkzeug.serving import make_server

from lti_tool import create_app, devlms
from lti_tool.catalogue import import_package
from lti_tool.devlms.identity import CLIENT_ID, DEPLOYMENT_ID, SAMPLE_COURSE_KEY, ensure_registered
from lti_tool.devlms.seed import build_demo_package
from lti_tool.services import build_services
from lti_tool.settings import load_settings

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


class Live:
    def __init__(self, base: str, app: Any, services: Any) -> None:
        self.base, self.app, self.services = base, app, services

    @property
    def platform(self) -> str:
        return self.base + "/dev/platform"


@pytest.fixture
def live(settings_overrides: dict[str, dict[str, Any]], tmp_path: Path) -> Iterator[Live]:
    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    overrides = copy.deepcopy(settings_overrides)
    overrides["server"]["base_url"] = base
    # tool and development LMS both on loopback: allow it explicitly (production refuses it)
    overrides["outbound"] = {"allow_private": ["127.0.0.0/8"]}
    settings = load_settings(environ={}, overrides=overrides)
    services = build_services(settings)
    services.keys.generate(if_missing=True)
    app = create_app(settings, services=services)
    app.testing = True
    devlms.install(app, services)
    ensure_registered(services.db, base)
    import_package(services, build_demo_package(tmp_path / "demo-course.zip"))
    server.app = app
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Live(base, app, services)
    finally:
        server.shutdown()
        thread.join(timeout=5)
        services.db.dispose()


class Browser(requests.Session):
    """Like browsers, returns Secure cookies to http://127.0.0.1 (a secure context).

    (requests copies the jar into a fresh one per request, so a cookie policy would be lost:
    the Secure flag of stored cookies is cleared before each request instead.)
    """

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        for cookie in self.cookies:
            cookie.secure = False
        return super().request(*args, **kwargs)


def browser() -> requests.Session:
    return Browser()


def submit_form_post(session: requests.Session, response: requests.Response) -> requests.Response:
    """Do what the auto-submitting form does."""
    html = response.text
    action = unescape(re.search(r'<form id="form_post" method="post" action="([^"]+)"', html).group(1))
    fields = {unescape(n): unescape(v) for n, v in re.findall(r'name="([^"]+)" value="([^"]*)"', html)}
    return session.post(action, data=fields, timeout=10, allow_redirects=True)


def launch_as(live: Live, session: requests.Session, user: str, link: int = 1) -> requests.Response:
    home = session.get(live.platform, timeout=10)
    assert home.status_code == 200
    auth_page = session.get(f"{live.platform}/launch?user={user}&link={link}", timeout=10)
    assert auth_page.status_code == 200 and 'id="form_post"' in auth_page.text, auth_page.text[:500]
    return submit_form_post(session, auth_page)


def test_learner_launch_end_to_end(live: Live):
    s = browser()
    page = launch_as(live, s, "learner")
    assert page.status_code == 200, page.text[:800]
    assert "/play/" in page.url
    assert 'id="cbsi-player-config"' in page.text and "Evidence Handling Basics" in page.text
    assert [r.status_code for r in page.history] == [303]
    # a reload of the player page resumes the same attempt
    again = s.get(page.url, timeout=10)
    attempt = re.search(r'"attemptId": ?"([0-9a-f]+)"', page.text)
    assert again.status_code == 200 and attempt is not None and attempt.group(1) in again.text


def test_instructor_launch_end_to_end(live: Live):
    s = browser()
    page = launch_as(live, s, "instructor")
    assert page.status_code == 200, page.text[:800]
    assert "/class/" in page.url
    assert "Ian Instructor" in page.text and "Demo Course" in page.text


def test_admin_sees_registration(live: Live):
    page = launch_as(live, browser(), "admin")
    assert "/class/" in page.url and CLIENT_ID in page.text and DEPLOYMENT_ID in page.text


def test_browser_without_cookie_gets_the_relaunch_page(live: Live):
    s = requests.Session()  # the stdlib policy drops Secure cookies over http: like a 3PC-blocking browser
    page = launch_as(live, s, "learner")
    assert page.status_code == 200
    assert 'data-code="state_cookie_missing"' in page.text
    relaunch = unescape(re.search(r'id="relaunch" href="([^"]+)"', page.text).group(1))
    # opening it top-level (with cookies) completes the launch
    b = browser()
    auth_page = b.get(relaunch, timeout=10)
    final = submit_form_post(b, auth_page)
    assert final.status_code == 200 and "/play/" in final.url


def test_replaying_the_form_post_fails(live: Live):
    s = browser()
    s.get(live.platform, timeout=10)
    auth_page = s.get(f"{live.platform}/launch?user=learner&link=1", timeout=10)
    assert submit_form_post(s, auth_page).status_code == 200
    replay = submit_form_post(s, auth_page)
    assert replay.status_code == 401 and "launch_replayed" in replay.text
    assert "Traceback" not in replay.text


def test_platform_key_file_is_private(live: Live):
    requests.get(live.platform + "/jwks", timeout=10).raise_for_status()
    path = live.services.settings.instance_path / "devplatform" / "platform-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- services the tool will call: token, AGS, NRPS, deep linking return ----------------------------


def client_assertion(live: Live, aud: str, jti: str | None = None) -> str:
    key = live.services.keys.signing_key()
    now = int(time.time())
    claims = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": aud,
        "iat": now,
        "exp": now + 60,
        "jti": jti or uuid.uuid4().hex,
    }
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def get_token(live: Live, scope: str, jti: str | None = None) -> requests.Response:
    return requests.post(
        live.platform + "/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": client_assertion(live, live.platform + "/token", jti),
            "scope": scope,
        },
        timeout=10,
    )


AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def test_token_endpoint_verifies_the_tool_over_http(live: Live):
    ok = get_token(live, f"{AGS}score {AGS}result.readonly https://example.org/not-allowed")
    assert ok.status_code == 200, ok.text
    assert ok.json()["scope"] == f"{AGS}score {AGS}result.readonly"  # unknown scopes dropped silently
    assert get_token(live, "https://example.org/not-allowed").json()["error"] == "invalid_scope"
    jti = uuid.uuid4().hex
    assert get_token(live, f"{AGS}score", jti).status_code == 200
    assert get_token(live, f"{AGS}score", jti).json()["error"] == "invalid_client"  # jti reuse


def test_scores_results_and_gradebook(live: Live):
    launch_as(live, browser(), "learner")  # creates the default graded activity
    token = get_token(live, f"{AGS}score {AGS}result.readonly {AGS}lineitem").json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    items = requests.get(live.platform + "/lineitems", headers=auth, timeout=10).json()
    lineitem = items[0]["id"]
    assert lineitem.endswith("/lineitem?type_id=1")
    path, _, query = lineitem.partition("?")
    scores_url = f"{path}/scores?{query}"  # inserted before the query string (DESIGN.md §6)
    ts = datetime.now(UTC).replace(microsecond=0)
    score = {
        "userId": "dev-user-ana",
        "scoreGiven": 8,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": ts.isoformat(),
        "comment": "well done",
    }
    headers = {**auth, "Content-Type": "application/vnd.ims.lis.v1.score+json"}
    assert requests.post(scores_url, json=score, headers=headers, timeout=10).status_code == 200
    same = requests.post(scores_url, json=score, headers=headers, timeout=10)
    assert same.status_code == 409  # not newer at 1-second resolution
    later = {**score, "scoreGiven": 9, "timestamp": (ts + timedelta(seconds=1)).isoformat()}
    assert requests.post(scores_url, json=later, headers=headers, timeout=10).status_code == 200
    wrong_type = requests.post(scores_url, json=later, headers=auth, timeout=10)
    assert wrong_type.status_code == 415
    stranger = {**later, "userId": "nobody", "timestamp": (ts + timedelta(seconds=5)).isoformat()}
    assert requests.post(scores_url, json=stranger, headers=headers, timeout=10).status_code == 400
    results = requests.get(f"{path}/results?{query}", headers=auth, timeout=10).json()
    assert [(r["userId"], r["resultScore"], r["resultMaximum"]) for r in results] == [("dev-user-ana", 9.0, 10.0)]
    book = requests.get(live.platform + "/gradebook", timeout=10).text
    assert "9.0 / 10.0" in book and "well done" in book
    no_scope = get_token(live, NRPS_SCOPE).json()["access_token"]
    forbidden = requests.post(
        scores_url, json=later, headers={**headers, "Authorization": f"Bearer {no_scope}"}, timeout=10
    )
    assert forbidden.status_code == 403


def test_cohort_learners_launch_and_receive_scores(live: Live):
    """Simulated learners (``cohort-N``, for load tests) launch like the named ones and are enrolled."""
    from lti_tool.devlms import identity as dev

    assert dev.user_by_key("cohort-17") == dev.user_by_sub("dev-cohort-17")
    for bad in ("cohort-0", "cohort-017", "cohort-10000", "cohort-x", "cohort-", "cohort-1.5", "nobody"):
        assert dev.user_by_key(bad) is None, bad
    page = launch_as(live, browser(), "cohort-17")
    assert page.status_code == 200 and "/play/" in page.url
    token = get_token(live, f"{AGS}score {AGS}lineitem").json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    path, _, query = requests.get(live.platform + "/lineitems", headers=auth, timeout=10).json()[0]["id"].partition("?")
    headers = {**auth, "Content-Type": "application/vnd.ims.lis.v1.score+json"}
    score = {
        "userId": "dev-cohort-17",
        "scoreGiven": 5,
        "scoreMaximum": 10,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": datetime.now(UTC).isoformat(),
    }
    assert requests.post(f"{path}/scores?{query}", json=score, headers=headers, timeout=10).status_code == 200
    for hostile in (["dev-cohort-17"], 17, None, {"a": 1}):  # a list used to crash the enrolment check
        answer = requests.post(f"{path}/scores?{query}", json={**score, "userId": hostile}, headers=headers, timeout=10)
        assert answer.status_code == 400, hostile


def test_memberships_paged(live: Live):
    token = get_token(live, NRPS_SCOPE).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    first = requests.get(live.platform + "/memberships?limit=1", headers=auth, timeout=10)
    assert first.headers["Content-Type"].startswith("application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
    names = [m["name"] for m in first.json()["members"]]
    nxt = re.match(r'<([^>]+)>; rel="next"', first.headers["Link"]).group(1)
    second = requests.get(nxt, headers=auth, timeout=10)
    names += [m["name"] for m in second.json()["members"]]
    assert names == ["Ana Learner", "Ian Instructor"] and "Link" not in second.headers
    assert requests.get(live.platform + "/memberships", timeout=10).status_code == 401


def test_deep_link_return_creates_resource_links(live: Live):
    requests.get(live.platform, timeout=10).raise_for_status()  # the course has its default activity
    key = live.services.keys.signing_key()
    now = int(time.time())
    response_claims = {
        "iss": CLIENT_ID,
        "aud": live.platform,
        "iat": now,
        "exp": now + 300,
        "nonce": uuid.uuid4().hex,
        CLAIM + "message_type": "LtiDeepLinkingResponse",
        CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": DEPLOYMENT_ID,
        DL + "content_items": [
            {
                "type": "ltiResourceLink",
                "title": "Picked course",
                "url": live.base + "/lti/launch",
                "custom": {"course": SAMPLE_COURSE_KEY},
                "lineItem": {"scoreMaximum": 50, "label": "Picked course", "tag": "grade"},
            }
        ],
    }
    token = jwt.encode(response_claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})
    result = requests.post(live.platform + "/deep_link_return", data={"JWT": token}, timeout=10)
    assert result.status_code == 200 and "Picked course" in result.text
    assert "Picked course" in requests.get(live.platform, timeout=10).text
    bad = dict(response_claims, **{CLAIM + "message_type": "LtiResourceLinkRequest"})
    refused = requests.post(
        live.platform + "/deep_link_return",
        data={"JWT": jwt.encode(bad, key.private_key, algorithm="RS256", headers={"kid": key.kid})},
        timeout=10,
    )
    assert refused.status_code == 400 and "LtiDeepLinkingResponse" in refused.text
    # the new activity launches with its custom claim and its own line item
    page = launch_as(live, browser(), "learner", link=2)
    assert page.status_code == 200 and 'id="cbsi-player-config"' in page.text


def test_dev_platform_hidden_unless_enabled(client):
    assert client.get("/dev/platform").status_code == 404
    assert client.get("/dev/platform/jwks").status_code == 404
