"""Fixtures of the web tests: a platform, an imported real course and a learner's launch."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import factories
import pytest
from flask import Flask

from lti_tool.lti.context import Launch
from lti_tool.services import Services
from lti_tool.web.player import learner_page

PRESENTATION = factories.PRESENTATION_CLAIM
GOLF12 = factories.GOLF12
SEQUENCED = "scorm2004/SequencingForcedSequential_SCORM20043rdEdition.zip"


@pytest.fixture
def make_launch(services: Services, platform_id: int, fixtures_dir: Path) -> Callable[..., Launch]:
    """A learner's launch of a real course (imported once per test), with optional return_url."""
    imported: dict[str, str] = {}

    def build(
        package: str = GOLF12, *, return_url: Any = None, presentation: Any = None, sub: str = "learner-1"
    ) -> Launch:
        if package not in imported:
            imported[package] = factories.import_course(services, fixtures_dir / package).course_key
        claims: dict[str, Any] = {}
        if presentation is not None:
            claims[PRESENTATION] = presentation
        elif return_url is not None:
            claims[PRESENTATION] = {"document_target": "iframe", "return_url": return_url}
        return factories.launch(imported[package], platform_id=platform_id, sub=sub, claims=claims)

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
