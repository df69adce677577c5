"""Fixtures for runtime tests: imported real courses and learner launches (``tests/factories.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import factories
import pytest

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
