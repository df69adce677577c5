"""Fixtures for the LTI Advantage suites (helpers live in lti_adv_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lti_adv_helpers import Clock, FakeServer, running_fake_server


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A fresh fake HTTP server per test."""
    with running_fake_server() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    """A settable UTC clock starting now."""
    return Clock()


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """These suites talk to fake LMS servers on 127.0.0.1, which production refuses to call:
    allow loopback explicitly (``outbound.allow_private``), as an academy allows its network."""
    return {**settings_overrides, "outbound": {"allow_private": ["127.0.0.0/8"]}}
