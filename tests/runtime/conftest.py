"""Fixtures for runtime tests: imported real courses and learner launches (``tests/factories.py``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import factories
import pytest
from sqlalchemy.orm import Session

from lti_tool import catalogue
from lti_tool.lti.context import Launch
from lti_tool.services import Services


@pytest.fixture
def import_course(services: Services, fixtures_dir: Path) -> Callable[[str], catalogue.ImportOutcome]:
    def run(name: str) -> catalogue.ImportOutcome:
        return factories.import_course(services, fixtures_dir / name)

    return run


@pytest.fixture
def make_launch(platform_id: int) -> Callable[..., Launch]:
    """``factories.launch`` on the test platform: ``make_launch(course_key, sub=..., link=..., **fields)``."""

    def build(course: str, **kw: Any) -> Launch:
        return factories.launch(course, platform_id=platform_id, **kw)

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
