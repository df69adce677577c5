"""Fixtures for the LTI Advantage suites (helpers live in ltiadv_support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ltiadv_support import Clock, FakeServer, running_fake_server


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """A fresh fake HTTP server per test."""
    with running_fake_server() as fake:
        yield fake


@pytest.fixture
def clock() -> Clock:
    """A settable UTC clock starting now."""
    return Clock()
