"""Fixtures of the web tests: a platform, an imported real course and a learner's launch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.services import Services
from lti_tool.web.player import learner_page

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
PRESENTATION = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
GOLF12 = "scorm12/RuntimeBasicCalls_SCORM12.zip"
SEQUENCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"


@pytest.fixture
def make_launch(services: Services, platform_id: int, fixtures_dir: Path) -> Callable[..., Launch]:
    """A learner's launch of a real course (imported once per test), with optional return_url."""
    imported: dict[str, str] = {}

    def build(
        package: str = GOLF12, *, return_url: Any = None, presentation: Any = None, sub: str = "learner-1"
    ) -> Launch:
        if package not in imported:
            imported[package] = catalogue.import_package(services, fixtures_dir / package).course_key
        claims: dict[str, Any] = {}
        if presentation is not None:
            claims[PRESENTATION] = presentation
        elif return_url is not None:
            claims[PRESENTATION] = {"document_target": "iframe", "return_url": return_url}
        return Launch(
            id="launch-1",
            platform_id=platform_id,
            issuer="https://lms.example",
            client_id="client-1",
            deployment_id="dep-1",
            message_type="LtiResourceLinkRequest",
            sub=sub,
            roles=(LEARNER,),
            context_id="course-7",
            context_title="Police Academy Intake 12",
            resource_link_id="rl-1",
            resource_link_title="Evidence module",
            name="Ana Learner",
            email="ana@example.org",
            custom={"course": imported[package]},
            claims=claims,
        )

    return build


@pytest.fixture
def player_config(app: Flask) -> Callable[[Launch], dict[str, Any]]:
    """The config the player page embeds for a launch (the attempt is opened as a launch does)."""

    def render(launch: Launch) -> dict[str, Any]:
        with app.test_request_context(f"/play/{launch.id}"):
            html = learner_page(launch)
        match = re.search(r'<script type="application/json" id="cbsi-player-config">(.*?)</script>', html, re.S)
        assert match, html[:300]
        return json.loads(match.group(1))

    return render
