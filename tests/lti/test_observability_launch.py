"""Launch and commit latency histograms; refused launches counted by their error code (HTML and JSON)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lti_helpers import Peer, claims_for, login, post_launch
from prometheus_client.parser import text_string_to_metric_families

from lti_tool import catalogue
from lti_tool.lti import platforms
from lti_tool.services import Services

GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"


def value(text: str, name: str, **labels: str) -> float:
    wanted = tuple(sorted(labels.items()))
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and tuple(sorted(s.labels.items())) == wanted:
                return s.value
    return 0.0


def scrape(client: FlaskClient) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_launch_and_commit_are_timed(client: FlaskClient, services: Services, peer: Peer, fixtures_dir: Path) -> None:
    course = catalogue.import_package(services, fixtures_dir / GOLF12).course_key
    before = scrape(client)
    state, nonce, _ = login(client)
    launch = post_launch(client, peer.sign(claims_for(nonce, lti_custom={"course": course})), state)
    assert launch.status_code == 303
    page = client.get(launch.headers["Location"]).get_data(as_text=True)
    config = json.loads(
        re.search(r'<script type="application/json" id="cbsi-player-config">(.*?)</script>', page, re.S).group(1)
    )
    rt = config["runtime"]
    commit = client.post(
        rt["commitUrl"],
        data=json.dumps({"seq": 1, "changes": {"cmi.core.lesson_location": "1"}}),
        headers={"Authorization": f"Bearer {rt['token']}", "X-Request-ID": "commit-trace-1"},
        content_type="application/json",
    )
    assert commit.status_code == 200 and commit.headers["X-Request-ID"] == "commit-trace-1"
    after = scrape(client)
    for name, status in (("cbsi_lti_launch_duration_seconds", "303"), ("cbsi_runtime_commit_duration_seconds", "200")):
        assert value(after, f"{name}_count", status=status) == value(before, f"{name}_count", status=status) + 1
        assert value(after, f"{name}_sum", status=status) > value(before, f"{name}_sum", status=status)
        assert value(after, f"{name}_bucket", status=status, le="+Inf") == value(after, f"{name}_count", status=status)
    rule = {"endpoint": "/runtime/<attempt_id>/<item_id>/commit", "method": "POST", "status": "200"}
    assert value(after, "cbsi_http_request_duration_seconds_count", **rule) >= 1


@pytest.mark.parametrize("accept", ["application/json", "text/html"])
def test_refused_launch_counts_its_error_code(client: FlaskClient, services: Services, peer: Peer, accept: str) -> None:
    state, nonce, _ = login(client)
    platforms.disable_platform(services.db, peer.platform.id)
    before = scrape(client)
    refused = client.post(
        "/lti/launch",
        data={"id_token": peer.sign(claims_for(nonce)), "state": state},
        headers={"Accept": accept},
    )
    assert refused.status_code == 403, refused.get_data(as_text=True)[:300]
    body = refused.get_data(as_text=True)
    assert "platform_disabled" in body
    after = scrape(client)
    code = "platform_disabled"
    assert value(after, "cbsi_errors_total", code=code) == value(before, "cbsi_errors_total", code=code) + 1
    assert value(after, "cbsi_lti_launch_duration_seconds_count", status="403") == (
        value(before, "cbsi_lti_launch_duration_seconds_count", status="403") + 1
    )
