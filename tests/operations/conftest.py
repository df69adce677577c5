"""Fixtures of the operations tests: fresh databases for processes started by the tests."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def make_database(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``make_database(hint)``: a new empty database — PostgreSQL in the PostgreSQL pass (dropped
    afterwards), else a SQLite file under ``tmp_path``."""
    admin_url = os.environ.get("CBSI_TEST_POSTGRES_URL")
    made: list[str] = []

    def make(hint: str) -> str:
        if not admin_url:
            return f"sqlite:///{tmp_path / f'{hint}-{len(made)}.sqlite3'}"
        name = f"cbsi_{hint}_{uuid.uuid4().hex[:8]}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        made.append(name)
        return make_url(admin_url).set(database=name).render_as_string(hide_password=False)

    yield make
    if made:
        admin = create_engine(admin_url or "", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
