"""cmi5 launch: ``LMS.LaunchData.returnURL`` (cmi5 §10.2.6) and the ``cmi5LearnerPreferences`` agent
profile (cmi5 §11), through the player's launch route and the LRS (real CATAPULT package)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import factories
import pytest
from flask.testing import FlaskClient

from lti_tool import preview
from lti_tool.runtime import service
from lti_tool.services import Services

SINGLE = "cmi5/catapult_single_au_basic_framed.zip"
V2 = "2.0.0"
PREFS = "cmi5LearnerPreferences"


class Au:
    """What an AU does with its launch URL: fetch its credential, then call the LRS."""

    def __init__(self, client: FlaskClient, url: str) -> None:
        self.client = client
        self.params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        self.actor = json.loads(self.params["actor"])
        token = client.post(urlsplit(self.params["fetch"]).path).get_json()["auth-token"]
        self.auth = "Basic " + token

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": self.auth, "X-Experience-API-Version": V2, **extra}

    def launch_data(self) -> dict[str, Any]:
        query = {
            "activityId": self.params["activityId"], "agent": json.dumps(self.actor),
            "registration": self.params["registration"], "stateId": "LMS.LaunchData",
        }  # fmt: skip
        resp = self.client.get("/xapi/activities/state", query_string=query, headers=self.headers())
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()

    def preferences(self, agent: dict[str, Any] | None = None) -> Any:
        query = {"agent": json.dumps(agent or self.actor), "profileId": PREFS}
        return self.client.get("/xapi/agents/profile", query_string=query, headers=self.headers())


def _attempt(services: Services, platform_id: int, fixtures_dir: Path, sub: str = "learner-1") -> tuple[str, str]:
    course = factories.import_course(services, fixtures_dir / SINGLE)
    opened = service.open_attempt(services, factories.launch(course.course_key, platform_id=platform_id, sub=sub))
    return opened.attempt_id, services.runtime_signer.sign([opened.attempt_id, sub])


def _launch(client: FlaskClient, attempt_id: str, token: str, au: str, **body: Any) -> Au:
    resp = client.post(f"/cmi5/launch/{attempt_id}", json={"token": token, "au": au, **body})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return Au(client, resp.get_json()["url"])


@pytest.fixture
def au_id(services: Services, fixtures_dir: Path) -> str:
    import zipfile

    from scorm.packaging import DEFAULT_LIMITS, parse_manifest_bytes

    with zipfile.ZipFile(fixtures_dir / SINGLE) as z:
        parsed = parse_manifest_bytes(z.read("cmi5.xml"), file="cmi5.xml", limits=DEFAULT_LIMITS)
    return parsed.aus()[0].id  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "sent",
    ["https://lms.example/course/view.php?id=2", "javascript:alert(1)", "//evil.example/x", None, 42],
)
def test_launch_data_returns_every_au_to_the_tools_exit_page(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path, au_id: str, sent: Any
) -> None:
    """Never the LMS's own page, whatever the player page sends: the AU loads returnURL in its own
    (framed) window, where an LMS page refuses to load; the exit page hands the exit to the player."""
    attempt_id, token = _attempt(services, platform_id, fixtures_dir)
    au = _launch(client, attempt_id, token, au_id, returnUrl=sent)
    assert au.launch_data()["returnURL"] == "http://localhost/cmi5/exit"
    page = client.get("/cmi5/exit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "You have left the unit" in html
    assert "/static/player/cmi5_exit.js" in html
    assert "X-Frame-Options" not in page.headers  # it loads inside the player's frame


def test_a_preview_au_returns_to_the_preview_ended_page(
    client: FlaskClient, services: Services, fixtures_dir: Path, au_id: str
) -> None:
    course = factories.import_course(services, fixtures_dir / SINGLE)
    link = preview.issue(services, course.course_key)
    played = client.post(urlsplit(link.url).path)
    assert played.status_code == 200
    html = played.get_data(as_text=True)
    config = json.loads(html.split('id="cbsi-player-config">', 1)[1].split("</script>", 1)[0])
    au = _launch(client, config["attemptId"], config["token"], au_id, returnUrl=config["returnUrl"])
    assert au.launch_data()["returnURL"] == "http://localhost/preview/ended"
    page = client.get("/preview/ended")
    assert page.status_code == 200 and "Nothing was sent to a gradebook" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("locale", "accept", "expected"),
    [("es-DO", "en", "es-DO"), ("nl", None, "nl"), ("xx-YY", "fr-FR,fr;q=0.9", "fr-FR"), (None, None, "en")],
)
def test_learner_preferences_are_written_before_launch_and_read_by_the_au(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path, au_id: str,
    locale: str | None, accept: str | None, expected: str,
) -> None:  # fmt: skip
    attempt_id, token = _attempt(services, platform_id, fixtures_dir)
    headers = {"Accept-Language": accept} if accept else {}
    resp = client.post(
        f"/cmi5/launch/{attempt_id}", json={"token": token, "au": au_id, "locale": locale}, headers=headers
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    au = Au(client, resp.get_json()["url"])
    got = au.preferences()
    assert got.status_code == 200 and got.mimetype == "application/json"
    document = got.get_json()
    # well-formed per cmi5 §11: a JSON object; languagePreference a comma-separated list of RFC 5646
    # tags; audioPreference absent (the LMS does not know it), else "on"/"off"
    assert document == {"languagePreference": expected}
    for tag in document["languagePreference"].split(","):
        assert tag and "_" not in tag and tag.split("-")[0].isalpha()


def test_another_learner_cannot_read_them_and_the_au_cannot_change_them(
    client: FlaskClient, services: Services, platform_id: int, fixtures_dir: Path, au_id: str
) -> None:
    ana_attempt, ana_token = _attempt(services, platform_id, fixtures_dir, sub="ana")
    ana = _launch(client, ana_attempt, ana_token, au_id, locale="fr")
    bob_attempt, bob_token = _attempt(services, platform_id, fixtures_dir, sub="bob")
    bob = _launch(client, bob_attempt, bob_token, au_id, locale="nl")
    assert bob.preferences().get_json() == {"languagePreference": "nl"}
    stolen = bob.preferences(agent=ana.actor)
    assert stolen.status_code == 403
    query = {"agent": json.dumps(ana.actor), "profileId": PREFS}
    for method in (client.put, client.post):
        changed = method(
            "/xapi/agents/profile", query_string=query, data=json.dumps({"languagePreference": "de"}),
            headers=ana.headers(**{"Content-Type": "application/json", "If-None-Match": "*"}),
        )  # fmt: skip
        assert changed.status_code == 403, changed.get_data(as_text=True)
    assert client.delete("/xapi/agents/profile", query_string=query, headers=ana.headers()).status_code == 403
    assert ana.preferences().get_json() == {"languagePreference": "fr"}
    # the AU's own other agent profile documents stay writable
    other = {"agent": json.dumps(ana.actor), "profileId": "au-settings"}
    put = client.put(
        "/xapi/agents/profile", query_string=other, data=b'{"a": 1}',
        headers=ana.headers(**{"Content-Type": "application/json", "If-None-Match": "*"}),
    )  # fmt: skip
    assert put.status_code == 204, put.get_data(as_text=True)
