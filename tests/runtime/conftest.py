"""Fixtures for runtime tests: a platform, imported real courses and learner launches."""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.services import Services

# The manifest DSL (tests/player/manifest_dsl.py) is shared with the player tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "player"))

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"


@pytest.fixture
def import_course(services: Services, fixtures_dir: Path) -> Callable[[str], catalogue.ImportOutcome]:
    def run(name: str) -> catalogue.ImportOutcome:
        return catalogue.import_package(services, fixtures_dir / name)

    return run


@pytest.fixture
def make_launch(platform_id: int) -> Callable[..., Launch]:
    def build(
        course: str, *, sub: str = "learner-1", link: str = "rl-1", roles: tuple[str, ...] = (LEARNER,), **kw: object
    ) -> Launch:
        base = Launch(
            id="launch-1",
            platform_id=platform_id,
            issuer="https://lms.example",
            client_id="client-1",
            deployment_id="dep-1",
            message_type="LtiResourceLinkRequest",
            sub=sub,
            roles=roles,
            context_id="course-7",
            context_title="Police Academy Intake 12",
            resource_link_id=link,
            resource_link_title="Evidence module",
            name="Ana Learner",
            email="ana@example.org",
            custom={"course": course},
            claims={
                "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                    "lineitem": "https://lms.example/lineitems/1/lineitem?type_id=1",
                    "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                }
            },
        )
        return dataclasses.replace(base, **kw) if kw else base

    return build


@pytest.fixture
def counted(services: Services, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Units of work opened on ``services.db`` (one entry per ``session()``)."""
    opened: list[int] = []
    real = services.db.session

    @contextlib.contextmanager
    def session() -> Iterator[Session]:
        opened.append(1)
        with real() as s:
            yield s

    monkeypatch.setattr(services.db, "session", session)
    return opened
