"""Fixtures for the SQL grade outbox tests (helpers live in ``sync_sql_helpers.py``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lti_tool.storage import Database
from lti_tool.storage.outbox import SqlOutboxStore

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "sync"))  # sync_fakeplatform, sync_harness, the contract tests


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The migrated test database (SQLite, or PostgreSQL with CBSI_TEST_POSTGRES_URL)."""
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sql_store(db: Database) -> SqlOutboxStore:
    """The SQL outbox store over the test database."""
    return SqlOutboxStore(db)


@pytest.fixture
def settings_overrides(settings_overrides: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The fake platforms run on 127.0.0.1, which production refuses to call: allow it explicitly."""
    return {**settings_overrides, "outbound": {"allow_private": ["127.0.0.0/8"]}}
